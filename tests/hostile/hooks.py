"""Schemathesis hooks for the hostile-input run against `countersign serve`.

Every call gets a fresh EdDSA JWT (iss = the caller's did:key, aud = the service DID, a
one-time jti) signed by the principal the operation's `security` names: the owner, the
registered agent, the paired device, or any key (`signer`). When an operation accepts
several principals, one is picked at random per call so that each role is exercised.

The keys are PEM files named by COUNTERSIGN_HOSTILE_KEYS, a JSON file:
{"service_url": "http://127.0.0.1:PORT", "owner": PATH, "agent": PATH, "device": PATH}
"""

import base64
import json
import os
import secrets
import time
import urllib.request
import uuid

import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Principal:
    def __init__(self, key: Ed25519PrivateKey):
        self.key = key
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.did = "did:key:z" + _b58(b"\xed\x01" + raw)

    def jwt(self, audience: str) -> str:
        now = int(time.time())
        header = {"alg": "EdDSA", "typ": "JWT"}
        claims = {
            "iss": self.did,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        signing_input = (
            _b64url(json.dumps(header).encode())
            + "."
            + _b64url(json.dumps(claims).encode())
        )
        signature = self.key.sign(signing_input.encode())
        return signing_input + "." + _b64url(signature)


def _load():
    with open(os.environ["COUNTERSIGN_HOSTILE_KEYS"]) as f:
        conf = json.load(f)
    principals = {}
    for role in ("owner", "agent", "device"):
        with open(conf[role], "rb") as pem:
            principals[role] = _Principal(
                serialization.load_pem_private_key(pem.read(), password=None)
            )
    principals["signer"] = _Principal(Ed25519PrivateKey.generate())
    with urllib.request.urlopen(conf["service_url"] + "/v1/service") as r:
        service = json.load(r)["did"]
    return service, principals


_SERVICE, _PRINCIPALS = _load()


@schemathesis.hook
def before_call(context, case, kwargs):
    security = case.operation.definition.raw.get("security") or []
    roles = [role for requirement in security for role in requirement]
    if not roles:
        return
    role = secrets.choice(roles)
    if case.headers is None:
        case.headers = {}
    case.headers["Authorization"] = "Bearer " + _PRINCIPALS[role].jwt(_SERVICE)
