"""Bearer-token validation: RS256 JWTs checked against their issuer's JWKS (Cognito in AWS,
the local stack's dev issuer locally). The same code runs in both, so local tests prove AWS
auth. Two issuers are trusted, each for its own clients: the citizens' (no roles) and the
staff's (roles from `cognito:groups`); in AWS two user pools, locally one dev issuer that is
both."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chalicelib import config
from chalicelib.domain import json_limits
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


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens the API accepts: its JWKS, the clients it may issue for, and
    the clients whose tokens' `cognito:groups` are roles (staff clients; none for citizens)."""

    url: str
    jwks_url: str
    clients: frozenset[str]
    staff_clients: frozenset[str] = frozenset()


def trusted_issuers(s: config.Settings) -> tuple[TrustedIssuer, ...]:
    """The citizens' issuer (required) and the staff's (all three variables or none). One
    issuer may be both (the local stack's dev issuer): then its staff clients' tokens carry
    roles and its other clients' do not."""
    citizens = (s.jwt_issuer, frozenset(a for a in s.jwt_audience if a), s.jwks_url)
    if not all(citizens):
        raise RuntimeError(f"set {config.JWT_ISSUER}, {config.JWT_AUDIENCE} and {config.JWKS_URL}")
    staff = (s.staff_jwt_issuer, frozenset(a for a in s.staff_jwt_audience if a), s.staff_jwks_url)
    if any(staff) and not all(staff):
        raise RuntimeError(
            f"set all of {config.STAFF_JWT_ISSUER}, {config.STAFF_JWT_AUDIENCE} and "
            f"{config.STAFF_JWKS_URL}, or none"
        )
    found = {s.jwt_issuer: TrustedIssuer(s.jwt_issuer, s.jwks_url, citizens[1])}
    if all(staff):
        url, clients, jwks_url = staff
        same = found.get(url)
        if same is not None and same.jwks_url != jwks_url:
            raise RuntimeError(f"{url}: two JWKS URLs for one issuer")
        found[url] = TrustedIssuer(
            url, jwks_url, clients | (same.clients if same else frozenset()), clients
        )
    return tuple(found.values())


class TokenVerifier:
    def __init__(self, issuers: Iterable[TrustedIssuer]) -> None:
        self._issuers = {i.url: i for i in issuers}
        if not self._issuers:
            raise RuntimeError(
                f"set {config.JWT_ISSUER}, {config.JWT_AUDIENCE} and {config.JWKS_URL}"
            )
        self._keys = {i.url: _key_source(i.jwks_url) for i in self._issuers.values()}

    @classmethod
    def from_settings(cls, s: config.Settings) -> TokenVerifier:
        return cls(trusted_issuers(s))

    def verify(self, authorization: str) -> Principal:
        """The principal behind an `Authorization: Bearer <jwt>` value, or Unauthorized."""
        import jwt  # only the authorizer pays for PyJWT and cryptography at cold start

        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("expected an Authorization: Bearer <token> header")
        unverified = _check_shape(token)
        # The token's own `iss` only picks among the issuers configured: a key is never
        # fetched from anywhere a token names.
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise Unauthorized("the token's issuer is not trusted")
        try:
            key = self._keys[issuer.url](token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=issuer.url,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as e:
            raise Unauthorized(f"the token is not valid: {e}") from e
        _check_times(claims)
        client = _client_of(claims, issuer)
        # Roles come from the staff issuer's tokens for a staff client alone: a group in the
        # citizens' pool, whatever its name, grants nothing.
        groups = groups_of(claims) if client in issuer.staff_clients else frozenset()
        return Principal(citizen_id=citizen_id(claims.get("sub")), groups=groups)


def _client_of(claims: dict[str, object], issuer: TrustedIssuer) -> str:
    """Cognito ID tokens carry the app client in `aud`, access tokens in `client_id`; it must
    be one of the issuer's own clients (the citizens' app for the citizens' pool, the
    operators' console for the staff pool)."""
    if claims.get("token_use") == "access":
        clients: list[object] = [claims.get("client_id")]
    else:
        aud = claims.get("aud")
        clients = aud if isinstance(aud, list) else [aud]
    for client in clients:
        if isinstance(client, str) and client in issuer.clients:
            return client
    raise Unauthorized("the token was issued for another client")


# A citizen id is a key in every table and travels in logs and ledger details: Cognito's
# are UUIDs; anything longer or stranger than this is not a citizen of ours.
_CITIZEN_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}", re.ASCII)
MAX_GROUPS: Final = 100
MAX_GROUP_LENGTH: Final = 128  # Cognito's own limit on a group name
MAX_TOKEN_LENGTH: Final = 16 * 1024  # Cognito's tokens are 1-2 KB; headers are bounded anyway
_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


def _check_shape(token: str) -> dict[str, Any]:
    """Before PyJWT reads a byte: three base64url segments of bounded size whose header and
    claims are JSON objects within our limits. PyJWT's own json.loads lets RecursionError
    through (a 500 from an unsigned, deeply nested header); ours never gets that far.
    Returns the claims, unverified."""
    parts = token.split(".")
    if len(token) > MAX_TOKEN_LENGTH or len(parts) != 3:
        raise Unauthorized("the token is not a JWT")
    if not all(_SEGMENT.fullmatch(part) for part in parts):
        raise Unauthorized("the token is not a JWT")
    for part in parts[:2]:
        try:
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            document = json_limits.loads(decoded, max_depth=4)
        except ValueError as e:  # binascii.Error and JsonRejected are ValueErrors
            raise Unauthorized("the token is not a JWT") from e
        if not isinstance(document, dict):
            raise Unauthorized("the token is not a JWT")
    return document  # the claims, not yet verified


def _check_times(claims: dict[str, object]) -> None:
    """The token's times are JSON numbers (RFC 7519 NumericDate). PyJWT reads them through
    int(), so `"exp": "9999999999"` would pass as a time and a token would never expire."""
    for name in ("exp", "iat", "nbf", "auth_time"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unauthorized(f"the token's {name} is not a time")


def citizen_id(sub: object) -> str:
    """The token's `sub` as a citizen id, or Unauthorized (never a 500 further on)."""
    if not isinstance(sub, str) or not _CITIZEN_ID.fullmatch(sub):
        raise Unauthorized("the token's subject is not a citizen id")
    return sub


def groups_of(claims: dict[str, Any]) -> frozenset[str]:
    """`cognito:groups` as a set of names: a list of printable strings, bounded, or
    Unauthorized. The names go on as a JSON list, so no character in them is special."""
    groups = claims.get("cognito:groups")
    if groups is None:
        return frozenset()
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise Unauthorized("the token's groups are not a list of names")
    for group in groups:
        if (
            not isinstance(group, str)
            or not 0 < len(group) <= MAX_GROUP_LENGTH
            or not group.isprintable()
        ):
            raise Unauthorized("the token's groups are not a list of names")
    return frozenset(groups)


def encode_groups(groups: frozenset[str]) -> str:
    """Groups for the authorizer's context, whose values API Gateway keeps only as strings."""
    return json.dumps(sorted(groups), ensure_ascii=True)


def decode_groups(value: object) -> frozenset[str]:
    """The groups encode_groups wrote; anything else (a forged or legacy value) is none."""
    if not isinstance(value, str):
        return frozenset()
    try:
        groups = json_limits.loads(value, max_depth=1, max_bytes=64 * 1024)
    except json_limits.JsonRejected:
        return frozenset()
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return frozenset()
    return frozenset(groups)


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
    return TokenVerifier.from_settings(config.settings())
