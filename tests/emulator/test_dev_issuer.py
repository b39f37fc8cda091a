"""infra/local/dev_issuer.py: every token verifies against its own issuer's JWKS only, however
many are minted (the signing key is loaded once per key)."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest

from infra.local.dev_issuer import AUDIENCE, ensure_issuer


def _verify(token: str, jwks_url: str, issuer: str) -> dict[str, object]:
    keys = json.loads(Path(jwks_url.removeprefix("file://")).read_text())["keys"]
    key = jwt.PyJWK(keys[0]).key
    return dict(jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer))


def test_tokens_verify_with_their_own_issuer_only(tmp_path: Path) -> None:
    first = ensure_issuer(tmp_path / "one")
    second = ensure_issuer(tmp_path / "two")
    tokens = [first.mint(f"citizen-{n}") for n in range(3)]
    assert [_verify(t, first.jwks_url, first.issuer)["sub"] for t in tokens] == [
        "citizen-0",
        "citizen-1",
        "citizen-2",
    ]
    other = second.mint("citizen-0", admin=True)
    assert _verify(other, second.jwks_url, second.issuer)["cognito:groups"] == ["admin"]
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(other, first.jwks_url, second.issuer)
    assert ensure_issuer(tmp_path / "one").kid == first.kid  # the folder keeps its key
