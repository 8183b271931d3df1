#!/usr/bin/env python3
"""An independent DSSE implementation for provenance's interoperability tests.

Uses securesystemslib (the DSSE and key code of in-toto / TUF) and pyca/cryptography.

  dsse_interop.py verify ENVELOPE PUBLIC.pem
      Verifies an envelope written by `provenance attest`: securesystemslib's Envelope.verify
      with an Ed25519 SSlibKey whose keyid is provenance's (sha256 hex of the public key's
      SubjectPublicKeyInfo DER). Prints the statement's _type and predicateType; exit 0 when it
      verifies, 1 when not.
  dsse_interop.py sign PAYLOAD.json NAME
      Generates an Ed25519 key pair with cryptography (NAME.key PKCS#8 PEM, NAME.pub SPKI PEM),
      signs PAYLOAD.json's bytes as an in-toto payload with securesystemslib's CryptoSigner, and
      writes the envelope JSON to standard output.
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def keyid(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def verify(envelope_path, public_path):
    with open(public_path, "rb") as f:
        public_key = serialization.load_pem_public_key(f.read())
    key = SSlibKey.from_crypto(public_key, keyid=keyid(public_key))
    with open(envelope_path, "rb") as f:
        envelope = Envelope.from_dict(json.load(f))
    if envelope.payload_type != PAYLOAD_TYPE:
        print(f"unexpected payloadType {envelope.payload_type}", file=sys.stderr)
        return 1
    try:
        envelope.verify([key], 1)
    except Exception as error:  # VerificationError, or a malformed signature
        print(f"not verified: {error}", file=sys.stderr)
        return 1
    statement = json.loads(envelope.payload)
    print(statement["_type"], statement["predicateType"])
    return 0


def sign(payload_path, name):
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    with open(name + ".key", "wb") as f:
        f.write(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    with open(name + ".pub", "wb") as f:
        f.write(public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    signer = CryptoSigner(private_key, SSlibKey.from_crypto(public_key, keyid=keyid(public_key)))
    with open(payload_path, "rb") as f:
        envelope = Envelope(f.read(), PAYLOAD_TYPE, {})
    envelope.sign(signer)
    json.dump(envelope.to_dict(), sys.stdout)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "sign":
        sys.exit(sign(sys.argv[2], sys.argv[3]))
    print(__doc__, file=sys.stderr)
    sys.exit(64)
