"""The API accepts the tokens of each of its app clients (in AWS the citizens' app and the
operators' console, two clients of one user pool) and no other: JWT_AUDIENCE names them,
comma-separated, and a token for a client it does not name is refused."""

from __future__ import annotations

import pytest

from chalicelib import config
from chalicelib.config import Settings
from chalicelib.errors import Unauthorized
from chalicelib.tokens import TokenVerifier
from infra.local.dev_issuer import DevIssuer, ensure_issuer

APP = "citizen-app-client"
CONSOLE = "console-client"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    return ensure_issuer(tmp_path_factory.mktemp("issuer"))


def _verifier(issuer: DevIssuer, audience: str) -> TokenVerifier:
    settings = Settings.from_env(
        {
            config.JWT_ISSUER: issuer.issuer,
            config.JWT_AUDIENCE: audience,
            config.JWKS_URL: issuer.jwks_url,
        }
    )
    return TokenVerifier(settings.jwt_issuer, settings.jwt_audience, settings.jwks_url)


def test_the_audience_variable_names_one_client_or_several() -> None:
    assert Settings.from_env({config.JWT_AUDIENCE: APP}).jwt_audience == (APP,)
    both = Settings.from_env({config.JWT_AUDIENCE: f" {APP}, {CONSOLE} ,"})
    assert both.jwt_audience == (APP, CONSOLE)


@pytest.mark.parametrize("client", [APP, CONSOLE])
def test_id_and_access_tokens_of_either_client_are_accepted(issuer: DevIssuer, client: str) -> None:
    # GIVEN an API that accepts both clients' tokens
    verifier = _verifier(issuer, f"{APP},{CONSOLE}")
    # WHEN a staff member signed in through that client calls it
    id_token = issuer.mint("staff-1", roles=["operator"], aud=client)
    access_token = issuer.mint(
        "staff-1", roles=["operator"], aud=None, token_use="access", client_id=client
    )
    # THEN both kinds of token name the same person and groups
    for token in (id_token, access_token):
        who = verifier.verify(f"Bearer {token}")
        assert who.citizen_id == "staff-1"
        assert who.groups == {"operator"}


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"aud": ["someone-else", "other"]},
        {"aud": None, "token_use": "access", "client_id": "someone-else"},
        {"aud": None, "token_use": "access", "client_id": [CONSOLE]},
        {"aud": f"{APP},{CONSOLE}"},
    ],
    ids=["id token", "id token, list", "access token", "access token, list", "the joined list"],
)
def test_a_token_for_another_client_is_refused(issuer: DevIssuer, claims: dict) -> None:
    verifier = _verifier(issuer, f"{APP},{CONSOLE}")
    token = issuer.mint("staff-1", roles=["admin"], **claims)
    with pytest.raises(Unauthorized, match="another client"):
        verifier.verify(f"Bearer {token}")


def test_the_local_stacks_single_audience_still_works(issuer: DevIssuer) -> None:
    verifier = _verifier(issuer, issuer.env()[config.JWT_AUDIENCE])
    assert verifier.verify(f"Bearer {issuer.mint('c-1')}").citizen_id == "c-1"
    with pytest.raises(Unauthorized):
        verifier.verify(f"Bearer {issuer.mint('c-1', aud=CONSOLE)}")


def test_no_audience_is_a_configuration_error(issuer: DevIssuer) -> None:
    with pytest.raises(RuntimeError, match=config.JWT_AUDIENCE):
        _verifier(issuer, " , ")
