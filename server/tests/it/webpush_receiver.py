#!/usr/bin/env python3
"""The browser's side of Web Push for the tests, on an implementation independent of the
service's: the subscription key pair and auth secret (`keygen`), and RFC 8291 aes128gcm
decryption with the http_ece package (`decrypt PRIVATE AUTH < body`). Exit code 3 when
http_ece or cryptography is missing (`check`)."""

import base64
import json
import os
import sys


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main():
    try:
        import http_ece
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as e:
        print(f"missing Python package: {e.name}", file=sys.stderr)
        return 3
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "check":
        print("http_ece", getattr(http_ece, "__version__", "present"))
    elif command == "keygen":
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        private = key.private_numbers().private_value.to_bytes(32, "big")
        print(json.dumps({"private": b64e(private), "p256dh": b64e(public), "auth": b64e(os.urandom(16))}))
    elif command == "decrypt":
        private = ec.derive_private_key(int.from_bytes(b64d(sys.argv[2]), "big"), ec.SECP256R1())
        body = sys.stdin.buffer.read()
        plain = http_ece.decrypt(body, private_key=private, auth_secret=b64d(sys.argv[3]), version="aes128gcm")
        sys.stdout.buffer.write(plain)
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
