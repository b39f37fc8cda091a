"""What every route parses from the URL, judged strictly at the edge, and every method a route
does not serve answered in the JSON error shape: query integers in ASCII digits only (int()
alone takes "١٢", "1_000", "+5" and " 5"), enums matched exactly, query values once and
bounded, path values that can name something, and HEAD, OPTIONS, PATCH, ... a 405 with
`Allow` (declared as routes, so API Gateway answers the same in AWS)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from chalicelib.domain.districts import districts
from tests.contract import resolved
from tests.functional.conftest import Api

ADMIN = "edge-admin"
HOSTILE_INTEGERS = [
    "١٢", "１２", "²", "1_000", "+5", "-0", " 5", "5 ", "5\n", "0x10", "1e3", "5.0", "", "٣",
    "9" * 40, "5\x00",
]  # fmt: skip
HOSTILE_ENUMS = ["DAY", " day", "day ", "dаy", "day\x00", "", "xlsx,csv", "Csv"]


def _routes() -> list[tuple[str, str, Any]]:
    from app import app

    return sorted(
        (path, method, route)
        for path, methods in app.routes.items()
        for method, route in methods.items()
        if not getattr(route.view_function, "refusal", False)
    )


def _query_params(api: Api) -> list[tuple[str, str, str, dict[str, Any]]]:
    doc = api.call("GET", "/v1/openapi.json").body
    out = []
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            for p in operation["parameters"]:
                schema = resolved(p["schema"], doc)
                if p["in"] == "query" and (schema.get("type") == "integer" or "enum" in schema):
                    out.append((path, method.upper(), p["name"], schema))
    return out


def _url(path: str, query: list[tuple[str, str]]) -> str:
    filled = path
    names = ("run_id", "challenge_id", "device_id", "citizen_id", "correction_id", "entry_id")
    for name in (*names, "alert_id", "queue", "file", "token", "project_id"):
        filled = filled.replace("{" + name + "}", "x-1")
    return filled + "?" + urllib.parse.urlencode(query)


def _refusal(schema: dict[str, Any], value: str) -> tuple[int, str]:
    """A 400 `invalid_query`; but a district filter's single, printable value that names no
    district is DESIGN §4's 422 `unknown_district` (a repeated one is still malformed)."""
    if schema.get("enum") == list(districts()) and "&" not in value and value.isprintable():
        return 422, "unknown_district"
    return 400, "invalid_query"


def test_every_integer_and_enum_query_refuses_every_hostile_form(api: Api) -> None:
    api.call("PUT", "/v1/me", as_user=ADMIN, body={"display_name": "a", "district": "naeoe-dong"})
    params = _query_params(api)
    # the document names them all: limit, hours, period, format, ...
    assert {name for _, _, name, _ in params} >= {"limit", "hours", "format"}
    for path, method, name, schema in params:
        values = HOSTILE_INTEGERS if schema["type"] == "integer" else HOSTILE_ENUMS
        good = str(schema.get("default", schema.get("minimum", 1)))
        for value in [*values, f"{good}&{name}={good}"]:
            query = [(name, value)] if "&" not in value else [(name, good), (name, good)]
            response = api.call(method, _url(path, query), as_user=ADMIN, admin=True)
            refused = (response.status, response.body["error"]["code"])
            assert refused == _refusal(schema, value), (method, path, name, value, response.body)


def test_the_integer_forms_a_client_really_sends_still_work(api: Api) -> None:
    api.call("PUT", "/v1/me", as_user=ADMIN, body={"display_name": "a", "district": "naeoe-dong"})
    for value in ("1", "07", "100"):
        response = api.call("GET", f"/v1/me/ledger?limit={value}", as_user=ADMIN)
        assert response.status == 200, (value, response.body)


@pytest.mark.parametrize(
    "value", ["%D9%A1%D9%A2", "%EF%BC%91", "a%20b", "a%00b", "%E2%80%AE", "-x", "x" * 300]
)
def test_a_path_value_that_cannot_name_anything_is_a_404_in_the_error_shape(
    api: Api, value: str
) -> None:
    for path in ("/v1/robots/{}", "/v1/shelters/{}/air", "/v1/challenges/{}/draw",
                 "/v1/admin/payout-runs/{}"):  # fmt: skip
        response = api.call("GET", path.format(value), as_user=ADMIN, admin=True)
        assert response.status == 404, (path, value, response.body)
        assert set(response.body["error"]) == {"code", "message", "details"}
        # the code the route's own look-up gives an unknown id
        assert response.body["error"]["code"] == {
            "robots": "robot_not_found", "shelters": "shelter_not_found",
            "challenges": "challenge_not_found", "admin": "run_not_found",
        }[path.split("/")[2]]  # fmt: skip


def test_every_method_a_route_does_not_serve_is_a_405_with_allow(api: Api) -> None:
    from chalicelib.api.http import ROUTABLE_METHODS

    served: dict[str, set[str]] = {}
    for path, method, _ in _routes():
        served.setdefault(path, set()).add(method)
    for path, methods in served.items():
        url = _url(path, [])
        for method in ROUTABLE_METHODS:
            if method in methods:
                continue
            response = api.call(method, url)
            assert response.status == 405, (method, path, response.status, response.body)
            assert response.headers["Allow"] == ", ".join(sorted(methods))
            assert response.headers["Content-Type"] == "application/json"
            assert response.body["error"]["code"] == "method_not_allowed"
