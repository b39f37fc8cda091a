"""Token attacks through the API's authorizer that the functional tests do not already try
(they cover an unknown signing key, expired, another audience, garbled and oversized
unsigned tokens, odd subjects and groups): each is a 401 or 403 in the JSON error shape,
never a 2xx or a 5xx, on a citizen route and on an admin route, and no log line written
while refusing them holds the token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from infra.local.dev_issuer import DevIssuer
from tests.functional.conftest import Api
from tests.resilience import leaks
from tests.resilience.conftest import REPORT
from tests.resilience.harness import CapturedLogs


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(document: Any) -> str:
    return _b64(json.dumps(document, separators=(",", ":")).encode())


def _claims(issuer: DevIssuer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "c-attacker",
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["admin"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signing_key(issuer: DevIssuer) -> Any:
    return serialization.load_pem_private_key(issuer.key_file.read_bytes(), password=None)


def _signed(issuer: DevIssuer, claims: dict[str, Any], **header: Any) -> str:
    """Signed with the issuer's real key: only the claims or the header are wrong."""
    headers = {"kid": issuer.kid, **header}
    return jwt.encode(claims, _signing_key(issuer), algorithm="RS256", headers=headers)


def _alg_none(issuer: DevIssuer) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": issuer.kid}
    return f"{_segment(header)}.{_segment(_claims(issuer))}."


def _alg_none_with_signature(issuer: DevIssuer) -> str:
    return _alg_none(issuer) + _b64(b"x" * 32)


def _hs256_keyed_with(issuer: DevIssuer, key: bytes) -> str:
    head = _segment({"alg": "HS256", "typ": "JWT", "kid": issuer.kid})
    body = _segment(_claims(issuer))
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _hs256_with_public_key(issuer: DevIssuer) -> str:
    """The classic confusion: HMAC keyed with the RSA public key the JWKS publishes."""
    public = _signing_key(issuer).public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return _hs256_keyed_with(issuer, public.public_bytes(serialization.Encoding.PEM, spki))


def _hs256_with_public_pkcs1(issuer: DevIssuer) -> str:
    public = _signing_key(issuer).public_key()
    pkcs1 = serialization.PublicFormat.PKCS1
    return _hs256_keyed_with(issuer, public.public_bytes(serialization.Encoding.PEM, pkcs1))


def _other_rsa_key_same_kid(issuer: DevIssuer) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(issuer), key, algorithm="RS256", headers={"kid": issuer.kid})


def _embedded_jwk(issuer: DevIssuer) -> str:
    """The attacker's own public key in the header (`jwk`), signed with its private half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    headers = {"kid": issuer.kid, "jwk": public_jwk}
    return jwt.encode(_claims(issuer), key, algorithm="RS256", headers=headers)


def _jku(issuer: DevIssuer) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = {"kid": "attacker", "jku": "https://attacker.invalid/jwks.json"}
    return jwt.encode(_claims(issuer), key, algorithm="RS256", headers=headers)


def _other_algorithm_same_key(algorithm: str) -> Callable[[DevIssuer], str]:
    def token(issuer: DevIssuer) -> str:
        return jwt.encode(
            _claims(issuer), _signing_key(issuer), algorithm=algorithm, headers={"kid": issuer.kid}
        )

    return token


def _es256(issuer: DevIssuer) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(_claims(issuer), key, algorithm="ES256", headers={"kid": issuer.kid})


def _claims_attack(**changes: Any) -> Callable[[DevIssuer], str]:
    def token(issuer: DevIssuer) -> str:
        return _signed(issuer, _claims(issuer, **changes))

    return token


def _huge_signed(issuer: DevIssuer) -> str:
    """Validly signed, but far past any real token's size."""
    return _signed(issuer, _claims(issuer, padding="x" * 40_000))


def _signature_stripped(issuer: DevIssuer) -> str:
    head, body, _ = _signed(issuer, _claims(issuer)).split(".")
    return f"{head}.{body}."


def _claims_swapped(issuer: DevIssuer) -> str:
    """A real signature over other claims: the signature of a citizen's token on an
    admin's claims."""
    head, _, signature = issuer.mint("c-attacker").split(".")
    return f"{head}.{_segment(_claims(issuer))}.{signature}"


NOW = int(time.time())
ATTACKS: dict[str, Callable[[DevIssuer], str]] = {
    "alg none": _alg_none,
    "alg none with a signature": _alg_none_with_signature,
    "HS256 keyed with the public key (PEM)": _hs256_with_public_key,
    "HS256 keyed with the public key (PKCS1)": _hs256_with_public_pkcs1,
    "another RSA key under the issuer's kid": _other_rsa_key_same_kid,
    "attacker key embedded as jwk": _embedded_jwk,
    "attacker JWKS as jku": _jku,
    "RS512 with the issuer's key": _other_algorithm_same_key("RS512"),
    "PS256 with the issuer's key": _other_algorithm_same_key("PS256"),
    "ES256 under the issuer's kid": _es256,
    "signature stripped": _signature_stripped,
    "claims swapped under a real signature": _claims_swapped,
    "wrong issuer": _claims_attack(iss="https://evil.invalid/pool"),
    "issuer with a trailing slash": lambda i: _signed(i, _claims(i, iss=i.issuer + "/")),
    "not yet valid (nbf)": _claims_attack(nbf=NOW + 3600),
    "issued in the future (iat)": _claims_attack(iat=NOW + 3600, exp=NOW + 7200),
    "no exp": _claims_attack(exp=None),
    "no iat": _claims_attack(iat=None),
    "no iss": _claims_attack(iss=None),
    "exp as text": _claims_attack(exp="9999999999"),
    "exp far past": _claims_attack(exp=1, iat=0),
    "audience list without ours": _claims_attack(aud=["someone-else", "other"]),
    "no audience": _claims_attack(aud=None),
    "access token for another client": _claims_attack(token_use="access", client_id="evil"),
    "access token without client_id": _claims_attack(token_use="access"),
    "sub null": _claims_attack(sub=None),
    "sub an object": _claims_attack(sub={"id": "c-1"}),
    "groups as text holding admin": _claims_attack(**{"cognito:groups": "admin"}),
    "huge but validly signed": _huge_signed,
}


@pytest.mark.parametrize("route", [("GET", "/v1/me"), ("GET", "/v1/admin/stats")])
def test_every_attack_is_refused_with_401_or_403(
    api: Api, issuer: DevIssuer, logs: CapturedLogs, route: tuple[str, str]
) -> None:
    # GIVEN a registered citizen, so a token that got through would reach real data
    assert api.call("PUT", "/v1/me", as_user="c-attacker", body=_profile()).status == 200
    tokens = {name: make(issuer) for name, make in ATTACKS.items()}
    let_through: dict[str, int] = {}
    for name, token in tokens.items():
        # WHEN each forged token is sent (and once more with the scheme written otherwise)
        for value in (f"Bearer {token}", f"bearer  {token}"):
            answer = api.call(*route, headers={"authorization": value})
            # THEN it is refused in the JSON error shape
            if answer.status not in (401, 403):
                let_through[name] = answer.status
            else:
                assert set(answer.body["error"]) == {"code", "message", "details"}, name
    assert not let_through
    REPORT["JWT attacks sent"] += 2 * len(tokens)
    # AND no line written while refusing them holds a token
    found = leaks.leaks("log lines", logs.lines)
    assert not found, found[:2]


def _profile() -> dict[str, Any]:
    return {"display_name": "Mallory", "district": "naeoe-dong"}
