"""The citizen and public routes' contract (issue 23): every operation declares the schema of
each success status and has a summary, the query values are enums and formats read from the
data, JSON answers are UTF-8 as written with their Content-Type, and `GET /v1/banks` lists
exactly the banks (and names) a payout account is judged by."""

from __future__ import annotations

import inspect
import json
from typing import Any, get_args

import pytest

from chalicelib.domain.districts import districts
from chalicelib.domain.payout_accounts import banks, resolve_bank
from tests.contract import document, resolved
from tests.functional.conftest import Api

CITIZEN_MODULES = {
    "chalicelib.api.me",
    "chalicelib.api.payout_accounts",
    "chalicelib.api.leaderboards",
    "chalicelib.api.challenges",
    "chalicelib.api.fleet",
    "chalicelib.api.banks",
}


def _citizen_operations() -> list[tuple[str, str, dict[str, Any]]]:
    from app import app

    found = []
    doc = document()
    for path, methods in app.routes.items():
        for method, route in methods.items():
            if inspect.unwrap(route.view_function).__module__ in CITIZEN_MODULES:
                found.append((method, path, doc["paths"][path][method.lower()]))
    return found


def test_every_citizen_operation_declares_its_success_schema_and_a_summary() -> None:
    operations = _citizen_operations()
    assert len(operations) >= 24
    for method, path, operation in operations:
        where = f"{method} {path}"
        summary = operation.get("summary", "")
        assert summary and summary.endswith("."), f"{where} has no one-line summary"
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert successes, where
        for status, response in successes.items():
            schema = response["content"]["application/json"].get("schema", {})
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (
                f"{where} {status} declares no schema"
            )


def test_every_answer_schema_is_closed_and_fully_required() -> None:
    """Objects name every field (no `additionalProperties`, except a robot's bins, which are
    keyed by material): a generated client's models are the views' answers."""
    schemas = document()["components"]["schemas"]
    seen = set()
    for _method, _path, operation in _citizen_operations():
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                seen.add(response["content"]["application/json"]["schema"]["$ref"].split("/")[-1])
    pending = list(seen)
    while pending:
        name = pending.pop()
        schema = schemas[name]
        text = json.dumps(schema)
        for ref in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
            if ref not in seen:
                seen.add(ref)
                pending.append(ref)
        if name == "Bins":
            assert schema["additionalProperties"] == {
                "anyOf": [{"type": "number"}, {"type": "null"}]
            }
        elif schema.get("type") == "object":
            assert schema.get("additionalProperties") is False, name
    assert {
        "Profile",
        "LedgerPage",
        "StepBoard",
        "ChallengeStanding",
        "Shelter",
        "BankList",
    } <= seen


def test_the_documents_enums_are_the_domains_value_sets() -> None:
    from chalicelib.api import common_schemas as cs
    from chalicelib.domain import air, alerts, boards, fleet, ledger
    from chalicelib.domain import challenges as c

    def values(enum: Any) -> list[str]:
        return [member.value for member in enum]

    assert values(cs.LedgerKind) == list(get_args(ledger.LedgerKind))
    assert values(cs.ChallengeKind) == list(c.KINDS) == list(get_args(c.Kind))
    assert values(cs.PrizeType) == list(get_args(c.PrizeType))
    assert values(cs.DrawScheme) == [c.DRAW_PSEUDONYMS, c.DRAW_CITIZEN_IDS]
    assert values(cs.Period) == list(boards.PERIOD_KINDS)
    assert values(cs.PurifierMode) == list(air.PURIFIER_MODES)
    assert values(cs.AlertKind) == list(fleet.ALERT_KINDS) == list(alerts.KINDS)
    assert values(cs.AlertSeverity) == list(alerts.SEVERITIES)
    assert values(cs.District) == list(districts())


def test_query_values_have_precise_schemas() -> None:
    paths = document()["paths"]

    def parameters(path: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p["schema"] for p in paths[path]["get"]["parameters"]}

    codes = list(districts())
    board = parameters("/v1/leaderboards/steps")
    assert board["period"] == {"$ref": "#/components/schemas/Period", "default": "day"}
    assert resolved(board["period"]) == {
        "type": "string",
        "enum": ["day", "week"],
        "default": "day",
    }
    assert board["scope"]["$ref"] == "#/components/schemas/BoardScope"
    scope = resolved(board["scope"])
    assert scope["enum"] == ["city", *(f"district:{c}" for c in codes)]
    assert len(scope["enum"]) == 20 and scope["default"] == "city"
    assert board["date"]["format"] == "date"
    districts_board = parameters("/v1/leaderboards/districts")
    assert districts_board["date"]["format"] == "date"
    assert districts_board["period"]["$ref"] == "#/components/schemas/Period"
    for path in ("/v1/shelters", "/v1/robots"):
        assert parameters(path)["district"]["$ref"] == "#/components/schemas/District"
        assert resolved(parameters(path)["district"])["enum"] == codes
    assert parameters("/v1/me/ledger")["limit"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }


def test_json_answers_are_utf8_as_written_with_their_content_type(api: Api) -> None:
    from infra.local.api_gateway import request

    token = api.token("utf8-1")
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    body = json.dumps({"display_name": "김해 시민", "district": "naeoe-dong"}).encode()
    status, out_headers, raw = request(api._gateway, "PUT", "/v1/me", headers, body)
    assert status == 200
    assert out_headers["Content-Type"] == "application/json"
    assert "김해 시민".encode() in raw and b"\\u" not in raw
    assert "내외동".encode() in raw
    assert json.loads(raw.decode("utf-8"))["display_name"] == "김해 시민"
    # an error is JSON with its type too
    status, out_headers, raw = request(api._gateway, "GET", "/v1/challenges/nope", headers, None)
    assert status == 404 and out_headers["Content-Type"] == "application/json"
    assert json.loads(raw)["error"]["code"] == "challenge_not_found"


def test_a_lone_surrogate_in_an_answer_keeps_its_escape() -> None:
    """A body that has no UTF-8 form (an echoed lone surrogate) is still JSON, escaped."""
    from chalice import Response

    from chalicelib.api.http import json_bodies

    answer = json_bodies(None, lambda _: Response(body={"name": "a\ud800b", "k": "김"}))
    assert answer.body == '{"name":"a\\ud800b","k":"\\uae40"}'
    assert answer.headers["Content-Type"] == "application/json"
    kept = json_bodies(
        None, lambda _: Response(body="a,b\r\n", headers={"Content-Type": "text/csv"})
    )
    assert kept.body == "a,b\r\n" and kept.headers == {"Content-Type": "text/csv"}


# GET /v1/banks -------------------------------------------------------------------------


def test_banks_lists_every_bank_with_its_names_and_needs_no_token(api: Api) -> None:
    got = api.call("GET", "/v1/banks")
    assert got.status == 200
    listed = {b["code"]: b for b in got.body["banks"]}
    assert set(listed) == set(banks())
    assert listed["011"] == {
        "code": "011",
        "name_ko": "NH농협은행",
        "name_en": "NongHyup Bank",
        "aliases": ["농협은행", "농협", "NH", "Nonghyup"],
    }
    assert "토스" in listed["092"]["aliases"] and "Toss" in listed["092"]["aliases"]


def test_every_listed_name_is_accepted_as_its_bank_and_no_name_names_two(api: Api) -> None:
    owners: dict[str, str] = {}
    for bank in api.call("GET", "/v1/banks").body["banks"]:
        for name in (bank["code"], bank["name_ko"], bank["name_en"], *bank["aliases"]):
            found = resolve_bank(name)
            assert found is not None and found.code == bank["code"], name
            folded = "".join(name.split()).casefold()
            assert owners.setdefault(folded, bank["code"]) == bank["code"], name


def _register(api: Api, who: str) -> None:
    body = {"display_name": who, "district": "naeoe-dong"}
    assert api.call("PUT", "/v1/me", as_user=who, body=body).status == 200


@pytest.mark.parametrize(
    ("given", "code"),
    [("농협", "011"), ("Toss", "092"), ("토스", "092"), ("국민", "004"), ("신한", "088"),
     ("카카오뱅크", "090"), ("Woori Bank", "020"), ("우체국", "071"), ("대구은행", "031")],
)  # fmt: skip
def test_a_payout_account_names_its_bank_in_korean_or_english(
    api: Api, given: str, code: str
) -> None:
    who = f"bank-{code}"
    _register(api, who)
    account = {"bank": given, "account_number": "110-123-456789", "holder": "홍길동"}
    put = api.call("PUT", "/v1/me/payout-account", as_user=who, body=account)
    assert put.status == 200, put.body
    assert put.body["payout_account"]["bank_code"] == code


@pytest.mark.parametrize(
    "given", ["농협중앙회은행", "Bank of Nowhere", "999", "은행", "토 스 뱅 크 2"]
)
def test_a_name_no_bank_has_is_refused(api: Api, given: str) -> None:
    _register(api, "bank-refused")
    account = {"bank": given, "account_number": "110-123-456789", "holder": "홍길동"}
    put = api.call("PUT", "/v1/me/payout-account", as_user="bank-refused", body=account)
    assert put.status == 422
    assert put.body["error"]["code"] == "invalid_payout_account"
    assert {"field": "bank", "problem": "not a known bank code or name"} in put.body["error"][
        "details"
    ]
