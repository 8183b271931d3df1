#!/usr/bin/env bash
# Builds provenance (release, static Swift runtime) and installs it as /usr/local/bin/provenance, with
# the trace interposer as /usr/local/lib/provenance/libprovenance-trace.so.
# Usage: scripts/install.sh [PREFIX]   (default /usr/local)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-/usr/local}"

scripts/install-deps.sh
swift build -c release --static-swift-stdlib --scratch-path .build-release --product provenance
# The interposer of `provenance run --trace`, found by the binary in ../lib/provenance/.
swift build -c release --static-swift-stdlib --scratch-path .build-release --product provenance-trace
sudo=""
[[ -w "$prefix/bin" || $(id -u) -eq 0 ]] || sudo="sudo"
$sudo install -D -m 0755 .build-release/release/provenance "$prefix/bin/provenance"
$sudo install -D -m 0644 .build-release/release/libprovenance-trace.so "$prefix/lib/provenance/libprovenance-trace.so"
echo "installed $prefix/bin/provenance ($("$prefix/bin/provenance" --version))"
