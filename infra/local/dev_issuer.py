"""The local stack's token issuer: stands in for a Cognito user pool.

An RSA key in the state folder signs RS256 JWTs shaped like Cognito ID tokens; its public
half is published as a JWKS file that the app's authorizer reads through a file:// URL,
exactly as it reads Cognito's JWKS over HTTPS in AWS.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "gimhae-local-app"
TOKEN_LIFETIME_S = 3600


@dataclass(frozen=True)
class DevIssuer:
    issuer: str
    audience: str
    jwks_url: str
    key_file: Path
    kid: str

    def env(self) -> dict[str, str]:
        """The app's issuer variables: this one issuer is the citizens' and the staff's (in
        AWS two user pools), so the tokens it mints carry their roles, as the console's dev
        login and `python -m infra.local token --roles ...` expect."""
        return {
            "JWT_ISSUER": self.issuer,
            "JWT_AUDIENCE": self.audience,
            "JWKS_URL": self.jwks_url,
            "STAFF_JWT_ISSUER": self.issuer,
            "STAFF_JWT_AUDIENCE": self.audience,
            "STAFF_JWKS_URL": self.jwks_url,
        }

    def mint(
        self,
        sub: str,
        *,
        admin: bool = False,
        roles: Iterable[str] = (),
        lifetime_s: int = TOKEN_LIFETIME_S,
        **claims: object,
    ) -> str:
        """A token for `sub`; `roles` (or `admin`, the `admin` role) go in `cognito:groups`."""
        now = int(time.time())
        body: dict[str, object] = {
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "token_use": "id",
            "iat": now,
            "auth_time": now,
            "exp": now + lifetime_s,
            "jti": str(uuid.uuid4()),
            "cognito:username": sub,
        }
        groups = list(dict.fromkeys([*(["admin"] if admin else []), *roles]))
        if groups:
            body["cognito:groups"] = groups
        body.update(claims)
        key = _signing_key(self.key_file.read_bytes())
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": self.kid})


@functools.lru_cache(maxsize=8)
def _signing_key(pem: bytes) -> Any:
    """A PEM key loaded once: loading checks the RSA key, ~40 ms, which made minting the
    bulk of a registration's cost for seeding clients (the bench, the demo)."""
    return serialization.load_pem_private_key(pem, password=None)


def ensure_issuer(state_dir: Path) -> DevIssuer:
    """Create the signing key and JWKS once per state folder; reuse them afterwards."""
    folder = state_dir.resolve() / "issuer"
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "signing-key.pem"
    jwks_file = folder / "jwks.json"
    if not key_file.exists():
        _create_key(key_file)
    private = _signing_key(key_file.read_bytes())
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    thumbprint = hashlib.sha256(json.dumps(public_jwk, sort_keys=True).encode()).digest()
    kid = jwt.utils.base64url_encode(thumbprint[:12]).decode()
    public_jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    document = json.dumps({"keys": [public_jwk]})
    if not jwks_file.exists() or jwks_file.read_text(encoding="utf-8") != document:
        # Atomic: the running stack's authorizer may be reading it.
        tmp = jwks_file.with_name(f".jwks.{os.getpid()}.tmp")
        tmp.write_text(document, encoding="utf-8")
        tmp.replace(jwks_file)
    return DevIssuer(
        issuer=f"https://dev-issuer.local/{folder.parent.name}",
        audience=AUDIENCE,
        jwks_url=jwks_file.as_uri(),
        key_file=key_file,
        kid=kid,
    )


def _create_key(key_file: Path) -> None:
    """Written once, 0600 from the start; a second process racing us keeps the first key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
