#!/usr/bin/env python3
"""Run the real RO-Crate validator (roc-validator's `rocrate-validator` CLI) without a network.

While parsing a crate, the validator resolves the JSON-LD contexts the crate names in
`@context` (https://w3id.org/ro/crate/1.1/context, https://w3id.org/ro/terms/workflow-run/context)
over HTTP, through its `HttpRequester` (a `requests` session). This wrapper serves exactly those
URLs from the copies vendored in Tests/Resources/jsonld (origin and checksums in SOURCES.md there)
by answering them at the transport adapter, and refuses every other connection: the validator
and its profiles run unchanged, and nothing it does can reach (or silently depend on) the network.

Usage: VENV/bin/python rocrate_validate_offline.py ARGUMENTS...  (the python of the venv where
roc-validator is installed; the arguments are those of `rocrate-validator`, e.g.
`validate --no-cache -p process-run-crate-0.5 -l recommended RUN_DIR`). Every URL served is
listed on stderr (`offline context: URL -> FILE`), every refused one too (`offline: refused …`).
"""

import io
import os
import socket
import sys

import requests
import requests.adapters
import urllib3

HERE = os.path.dirname(os.path.abspath(__file__))
CONTEXTS = os.path.join(HERE, "..", "Resources", "jsonld")

# The URL as the crate (and the validator's profiles) name it -> the vendored file.
SERVED = {
    "https://w3id.org/ro/crate/1.1/context": "ro-crate-1.1-context.jsonld",
    "https://w3id.org/ro/terms/workflow-run/context": "workflow-run-context.json",
}


def _normalise(url):
    return url.split("#", 1)[0].rstrip("/")


def _send(self, request, **kwargs):
    name = SERVED.get(_normalise(request.url))
    if name is None:
        print(f"offline: refused {request.method} {request.url}", file=sys.stderr)
        raise requests.ConnectionError(f"offline: {request.url} is not one of the vendored JSON-LD contexts")
    path = os.path.join(CONTEXTS, name)
    with open(path, "rb") as handle:
        body = handle.read()
    print(f"offline context: {request.url} -> {os.path.relpath(path, os.path.join(HERE, '..', '..'))}", file=sys.stderr)
    response = requests.models.Response()
    response.status_code = 200
    response.reason = "OK"
    response.url = request.url
    response.request = request
    response.encoding = "utf-8"
    response.headers = requests.structures.CaseInsensitiveDict(
        {"Content-Type": "application/ld+json", "Content-Length": str(len(body))})
    # A real urllib3 response, as requests_cache (the validator's HTTP cache) stores it.
    response.raw = urllib3.response.HTTPResponse(
        body=io.BytesIO(body), headers=dict(response.headers), status=200, reason="OK",
        preload_content=False, decode_content=False, request_url=request.url)
    response._content = body
    response._content_consumed = True
    return response


def _refuse(*args, **kwargs):
    raise OSError(f"offline: network connection refused ({args[1] if len(args) > 1 else args})")


requests.adapters.HTTPAdapter.send = _send
# Anything that bypasses requests (rdflib's own urllib fallback, a plain socket) fails loudly.
socket.socket.connect = _refuse
socket.create_connection = lambda *a, **k: _refuse(None, a[0] if a else a)

from rocrate_validator.cli import cli  # noqa: E402  (after the patches, by design)

if __name__ == "__main__":
    sys.argv[0] = "rocrate-validator"
    sys.exit(cli())
