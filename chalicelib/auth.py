"""Bearer-token validation: RS256 JWTs checked against the issuer's JWKS (Cognito in AWS, the
local stack's dev issuer locally). The same code runs in both, so local tests prove AWS auth."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib import config
from chalicelib.errors import Unauthorized

if TYPE_CHECKING:
    import jwt

LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    citizen_id: str
    groups: frozenset[str]

    def is_in(self, group: str) -> bool:
        return group in self.groups


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        if not (issuer and audience and jwks_url):
            raise RuntimeError(
                f"set {config.JWT_ISSUER}, {config.JWT_AUDIENCE} and {config.JWKS_URL}"
            )
        self._issuer = issuer
        self._audience = audience
        self._keys = _key_source(jwks_url)

    def verify(self, authorization: str) -> Principal:
        """The principal behind an `Authorization: Bearer <jwt>` value, or Unauthorized."""
        import jwt  # only the authorizer pays for PyJWT and cryptography at cold start

        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("expected an Authorization: Bearer <token> header")
        try:
            key = self._keys(token.strip())
            claims = jwt.decode(
                token.strip(),
                key.key,
                algorithms=["RS256"],
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as e:
            raise Unauthorized(f"the token is not valid: {e}") from e
        self._check_client(claims)
        groups = claims.get("cognito:groups") or []
        if not isinstance(groups, list):
            raise Unauthorized("the token's groups are not a list")
        return Principal(citizen_id=str(claims["sub"]), groups=frozenset(map(str, groups)))

    def _check_client(self, claims: dict[str, object]) -> None:
        """Cognito ID tokens carry the app client in `aud`, access tokens in `client_id`."""
        if claims.get("token_use") == "access":
            ok = claims.get("client_id") == self._audience
        else:
            aud = claims.get("aud")
            ok = aud == self._audience or (isinstance(aud, list) and self._audience in aud)
        if not ok:
            raise Unauthorized("the token was issued for another client")


def _key_source(jwks_url: str) -> Callable[[str], jwt.PyJWK]:
    """The signing key for a token: Cognito's JWKS over HTTPS (cached), or a local JWKS file
    (the local stack's dev issuer; PyJWKClient only speaks HTTP)."""
    import jwt

    if jwks_url.startswith("file://"):
        path = Path(urllib.parse.urlparse(jwks_url).path)
        keys = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))

        def from_file(token: str) -> jwt.PyJWK:
            kid = jwt.get_unverified_header(token).get("kid")
            for key in keys.keys:
                if key.key_id == kid:
                    return key
            raise jwt.PyJWKClientError(f"no key {kid!r} in the JWKS")

        return from_file
    client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600)
    return client.get_signing_key_from_jwt


@lru_cache(maxsize=1)
def verifier() -> TokenVerifier:
    s = config.settings()
    return TokenVerifier(s.jwt_issuer, s.jwt_audience, s.jwks_url)
