"""Every route of the OpenAPI document the app generates, fuzzed: bodies, query and path
parameters of every type, size and script, as a hostile client sends them. Whatever comes
in, the answer is below 500 and every error has DESIGN §4's JSON shape."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.api.common_schemas import board_scopes
from chalicelib.domain.districts import districts
from tests.contract import resolved
from tests.functional.conftest import Api

CITIZEN = "fuzz-citizen"
ADMIN = "fuzz-admin"

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["2026-11-25", "naeoe-dong", "", "0", "-1", "010-1234-5678", "‮", "𝟙𝟚"])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
_text = st.text(max_size=60) | st.sampled_from(
    ["day", "week", "city", "district:naeoe-dong", "1", "0"]
)


def _document(api: Api) -> dict[str, Any]:
    response = api.call("GET", "/v1/openapi.json")
    assert response.status == 200
    return dict(response.body)


def _operations() -> list[tuple[str, str]]:
    from app import app

    return sorted(
        (path, method)
        for path, methods in app.routes.items()
        for method, route in methods.items()
        if not getattr(route.view_function, "refusal", False)  # the 405s: test_http_edges
    )


def _body(doc: dict[str, Any], operation: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "requestBody" not in operation:
        return st.none()
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    fields = {name: _json for name in schema.get("properties", {})}
    shaped = st.fixed_dictionaries({}, optional=fields) if fields else st.just({})
    return shaped | _json


# What int() and str.isdigit() accept but a strict parser must not: other scripts' digits,
# full-width and superscript digits, underscores, signs, spaces, exponents. Each value has
# at least one such part, so every draw is one a strict parser refuses.
_hostile_integers = st.builds(
    lambda before, digits, after: before + digits + after,
    st.sampled_from(["", "+", " ", "\t", "0x", "\u0661", "\uff11", "\u0966"]),
    st.text(alphabet="0123456789", min_size=1, max_size=4),
    st.sampled_from(["", "_000", " ", "\n", "e3", ".0", "\u0662", "\u00b2", "\U0001d7d9"]),
).filter(lambda v: not (v.isascii() and v.isdigit()))


def _parameter(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if schema.get("type") == "integer":
        numbers = st.integers(min_value=-(10**30), max_value=10**30).map(str)
        return _hostile_integers | numbers | _hostile_integers | _text
    if "enum" in schema:
        allowed = [str(v) for v in schema["enum"]]
        near = st.sampled_from(allowed).flatmap(
            lambda v: st.sampled_from([v.upper(), f" {v}", f"{v} ", v + "\x00", v[:-1], v * 2])
        )
        return st.sampled_from(allowed) | near | _text
    return _text


def _typed(schema: dict[str, Any]) -> bool:
    """An integer or enum query parameter: always sent, so each draw tries its parser."""
    return schema.get("type") == "integer" or "enum" in schema


def _strictly_accepted(value: str, schema: dict[str, Any]) -> bool:
    """Whether a strict parser may take the value (its range aside)."""
    if schema.get("type") == "integer":
        return value.isascii() and value.lstrip("-").isdigit() and len(value) <= 13
    if "enum" in schema:
        return value in schema["enum"]
    return True


def _names_a_district(value: str, param: dict[str, Any]) -> bool:
    enum = param.get("enum")
    if enum == list(districts()):
        return True
    return enum == board_scopes() and value.startswith("district:")


@pytest.mark.parametrize(("path", "method"), _operations())
def test_no_input_gets_a_5xx_or_leaves_the_error_shape(api: Api, path: str, method: str) -> None:
    doc = _document(api)
    operation = doc["paths"][path][method.lower()]
    for who in (CITIZEN, ADMIN):
        api.call("PUT", "/v1/me", as_user=who, body={"display_name": who, "district": "naeoe-dong"})
    path_params = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
    query_params = {
        p["name"]: resolved(p["schema"], doc) for p in operation["parameters"] if p["in"] == "query"
    }

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        body=_body(doc, operation),
        path_values=st.fixed_dictionaries({name: _text for name in path_params}),
        query=st.fixed_dictionaries(
            {n: _parameter(schema) for n, schema in query_params.items() if _typed(schema)},
            optional={n: _parameter(s) for n, s in query_params.items() if not _typed(s)},
        ),
        as_admin=st.booleans(),
    )
    def fuzz(body: Any, path_values: dict[str, str], query: dict[str, str], as_admin: bool) -> None:
        url = path
        for name, value in path_values.items():
            url = url.replace("{" + name + "}", urllib.parse.quote(value, safe="") or "x")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        raw = None if body is None else json.dumps(body).encode()
        who = ADMIN if as_admin else CITIZEN
        response = api.call(
            method, url, as_user=who if "security" in operation else None, admin=as_admin, raw=raw
        )
        assert response.status < 500, (method, url, body, response.body)
        refused = [n for n, v in query.items() if not _strictly_accepted(v, query_params[n])]
        if refused and response.status not in (401, 403, 404):
            # DESIGN §4: a value that names no district is a 422 `unknown_district`, whether
            # a district's code or a board's `district:<code>` scope
            named = all(_names_a_district(query[n], query_params[n]) for n in refused)
            expected = (400, 422) if named else (400,)
            assert response.status in expected, (method, url, refused, response.body)
        if response.status >= 400 and method != "HEAD":
            error = response.body["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
            assert isinstance(error["details"], list)

    fuzz()


def test_the_document_is_valid_openapi_and_names_every_route(api: Api) -> None:
    from openapi_spec_validator import validate

    doc = _document(api)
    validate(doc)
    described = {(p, m.upper()) for p, methods in doc["paths"].items() for m in methods}
    assert described == set(_operations())
    steps = doc["paths"]["/v1/me/steps"]["put"]
    assert steps["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/StepsRequest"
    )
    board = {
        p["name"]: p["schema"] for p in doc["paths"]["/v1/leaderboards/steps"]["get"]["parameters"]
    }
    assert board["limit"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert "security" not in doc["paths"]["/v1/leaderboards/districts"]["get"]
