"""The local stack's token issuer: stands in for a Cognito user pool.

An RSA key in the state folder signs RS256 JWTs shaped like Cognito ID tokens; its public
half is published as a JWKS file that the app's authorizer reads through a file:// URL,
exactly as it reads Cognito's JWKS over HTTPS in AWS.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

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
        return {"JWT_ISSUER": self.issuer, "JWT_AUDIENCE": self.audience, "JWKS_URL": self.jwks_url}

    def mint(
        self, sub: str, *, admin: bool = False, lifetime_s: int = TOKEN_LIFETIME_S, **claims: object
    ) -> str:
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
        if admin:
            body["cognito:groups"] = ["admin"]
        body.update(claims)
        key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": self.kid})  # type: ignore[arg-type]


def ensure_issuer(state_dir: Path) -> DevIssuer:
    """Create the signing key and JWKS once per state folder; reuse them afterwards."""
    folder = state_dir.resolve() / "issuer"
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "signing-key.pem"
    jwks_file = folder / "jwks.json"
    if not key_file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_file.chmod(0o600)
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))  # type: ignore[arg-type]
    kid = jwt.utils.base64url_encode(json.dumps(public_jwk, sort_keys=True).encode()[:32]).decode()[
        :16
    ]
    public_jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    jwks_file.write_text(json.dumps({"keys": [public_jwk]}), encoding="utf-8")
    return DevIssuer(
        issuer=f"https://dev-issuer.local/{folder.parent.name}",
        audience=AUDIENCE,
        jwks_url=jwks_file.as_uri(),
        key_file=key_file,
        kid=kid,
    )
