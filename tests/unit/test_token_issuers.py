"""The API trusts two token issuers, each for its own clients: the citizens' (in AWS the
citizens' user pool and the app's client) and the staff's (the staff pool, MFA required,
and the console's client). Roles (`cognito:groups`) count only in a staff token: a citizen
who got into a group named `admin` in the citizens' pool is still a citizen. Any other
issuer, or a token for another client of a trusted issuer, is refused."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib import config
from chalicelib.config import Settings
from chalicelib.errors import Unauthorized
from chalicelib.tokens import TokenVerifier
from infra.local.dev_issuer import DevIssuer, ensure_issuer

APP = "citizen-app-client"
CONSOLE = "console-client"


@pytest.fixture(scope="module")
def citizens(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    return ensure_issuer(tmp_path_factory.mktemp("citizen-pool"))


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    return ensure_issuer(tmp_path_factory.mktemp("staff-pool"))


def _env(citizens: DevIssuer, staff: DevIssuer | None, app: str = APP) -> dict[str, str]:
    env = {config.JWT_ISSUER: citizens.issuer, config.JWT_AUDIENCE: app}
    env[config.JWKS_URL] = citizens.jwks_url
    if staff is not None:
        env[config.STAFF_JWT_ISSUER] = staff.issuer
        env[config.STAFF_JWT_AUDIENCE] = CONSOLE
        env[config.STAFF_JWKS_URL] = staff.jwks_url
    return env


def _verifier(env: dict[str, str]) -> TokenVerifier:
    return TokenVerifier.from_settings(Settings.from_env(env))


@pytest.fixture(scope="module")
def two_pools(citizens: DevIssuer, staff: DevIssuer) -> TokenVerifier:
    """As in AWS: the citizens' pool for the app, the staff pool for the console."""
    return _verifier(_env(citizens, staff))


def test_the_audience_variables_name_one_client_or_several() -> None:
    assert Settings.from_env({config.JWT_AUDIENCE: APP}).jwt_audience == (APP,)
    both = Settings.from_env({config.STAFF_JWT_AUDIENCE: f" {APP}, {CONSOLE} ,"})
    assert both.staff_jwt_audience == (APP, CONSOLE)


def test_staff_tokens_carry_their_roles_in_id_and_access_tokens(
    two_pools: TokenVerifier, staff: DevIssuer
) -> None:
    # WHEN a staff member signed in to the console calls the API with either token
    id_token = staff.mint("staff-1", roles=["operator", "finance"], aud=CONSOLE)
    access_token = staff.mint(
        "staff-1", roles=["operator", "finance"], aud=None, token_use="access", client_id=CONSOLE
    )
    # THEN both name the same person with the same roles
    for token in (id_token, access_token):
        who = two_pools.verify(f"Bearer {token}")
        assert (who.citizen_id, who.groups) == ("staff-1", {"operator", "finance"})


def test_a_group_in_the_citizens_pool_grants_nothing(
    two_pools: TokenVerifier, citizens: DevIssuer
) -> None:
    # GIVEN a citizen who somehow got into groups named like the staff roles
    id_token = citizens.mint("c-1", roles=["admin", "finance"], aud=APP)
    access_token = citizens.mint("c-1", admin=True, aud=None, token_use="access", client_id=APP)
    # THEN the API sees a citizen, with no role at all
    for token in (id_token, access_token):
        who = two_pools.verify(f"Bearer {token}")
        assert (who.citizen_id, who.groups) == ("c-1", frozenset())


@pytest.mark.parametrize(
    ("pool", "claims"),
    [
        ("citizens", {"aud": CONSOLE}),  # the console's client is the staff pool's
        ("citizens", {"aud": None, "token_use": "access", "client_id": CONSOLE}),
        ("staff", {"aud": APP}),  # the app's client is the citizens' pool's
        ("staff", {"aud": None, "token_use": "access", "client_id": APP}),
        ("staff", {"aud": "someone-else"}),
        ("staff", {"aud": ["someone-else", "other"]}),
        ("staff", {"aud": None, "token_use": "access", "client_id": [CONSOLE]}),
        ("staff", {"aud": f"{APP},{CONSOLE}"}),
    ],
    ids=[
        "citizens' issuer, console id token",
        "citizens' issuer, console access token",
        "staff issuer, app id token",
        "staff issuer, app access token",
        "another client",
        "a list of other clients",
        "client_id as a list",
        "the joined list",
    ],
)
def test_each_issuer_is_trusted_for_its_own_clients_only(
    two_pools: TokenVerifier, request: pytest.FixtureRequest, pool: str, claims: dict
) -> None:
    issuer: DevIssuer = request.getfixturevalue(pool)
    token = issuer.mint("someone", roles=["admin"], **claims)
    with pytest.raises(Unauthorized, match="another client"):
        two_pools.verify(f"Bearer {token}")


def test_an_issuer_not_configured_is_refused_before_any_key_is_fetched(
    two_pools: TokenVerifier, citizens: DevIssuer, staff: DevIssuer, tmp_path_factory
) -> None:
    stranger = ensure_issuer(tmp_path_factory.mktemp("elsewhere"))
    for claims in ({}, {"iss": staff.issuer + "/"}):
        token = stranger.mint("intruder", roles=["admin"], aud=CONSOLE, **claims)
        with pytest.raises(Unauthorized, match="issuer is not trusted"):
            two_pools.verify(f"Bearer {token}")
    # an issuer that is no string at all (PyJWT will not sign one: put together by hand)
    for iss in (["x"], None, {"a": 1}, 7):
        header, claims = (
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "RS256", "kid": staff.kid}, {"iss": iss, "sub": "x"})
        )
        with pytest.raises(Unauthorized, match="issuer is not trusted"):
            two_pools.verify(f"Bearer {header}.{claims}.c2ln")
    # a token naming the staff issuer but signed with the citizens' key
    forged = citizens.mint("intruder", roles=["admin"], aud=CONSOLE, iss=staff.issuer)
    with pytest.raises(Unauthorized, match="not valid"):
        two_pools.verify(f"Bearer {forged}")


def test_without_a_staff_issuer_no_token_carries_a_role(citizens: DevIssuer) -> None:
    verifier = _verifier(_env(citizens, None))
    assert verifier.verify(f"Bearer {citizens.mint('c-1', admin=True, aud=APP)}").groups == set()


def test_the_local_stacks_one_issuer_is_both_and_its_tokens_carry_roles(
    citizens: DevIssuer,
) -> None:
    verifier = _verifier(citizens.env())
    who = verifier.verify(f"Bearer {citizens.mint('ops-1', roles=['operator'])}")
    assert (who.citizen_id, who.groups) == ("ops-1", {"operator"})
    with pytest.raises(Unauthorized):
        verifier.verify(f"Bearer {citizens.mint('c-1', aud=CONSOLE)}")


def test_one_issuer_as_both_gives_roles_to_its_staff_clients_only(citizens: DevIssuer) -> None:
    env = _env(citizens, citizens)  # one pool: the app's client and the console's
    verifier = _verifier(env)
    app = verifier.verify(f"Bearer {citizens.mint('c-1', admin=True, aud=APP)}")
    console = verifier.verify(f"Bearer {citizens.mint('s-1', admin=True, aud=CONSOLE)}")
    assert (app.groups, console.groups) == (frozenset(), {"admin"})


@pytest.mark.parametrize(
    "change",
    [
        {config.JWT_AUDIENCE: " , "},
        {config.JWT_ISSUER: ""},
        {config.STAFF_JWKS_URL: ""},
        {config.STAFF_JWT_AUDIENCE: ","},
    ],
    ids=["no citizen audience", "no citizen issuer", "staff half set", "no staff audience"],
)
def test_a_half_configured_issuer_is_a_configuration_error(
    citizens: DevIssuer, staff: DevIssuer, change: dict[str, str]
) -> None:
    with pytest.raises(RuntimeError, match=r"JWT_AUDIENCE|JWT_ISSUER"):
        _verifier({**_env(citizens, staff), **change})


def test_one_issuer_with_two_key_sets_is_a_configuration_error(
    citizens: DevIssuer, staff: DevIssuer
) -> None:
    env = {**_env(citizens, staff), config.STAFF_JWT_ISSUER: citizens.issuer}
    with pytest.raises(RuntimeError, match="two JWKS URLs"):
        _verifier(env)
