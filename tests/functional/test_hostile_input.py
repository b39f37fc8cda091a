"""Hostile input through the real app on moto: each class ends in a clear 4xx over HTTP, or a
rejection ack and a quarantine entry with its reason over the deposit path; never a 500,
never a failed batch, never a raw phone number stored."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from infra.local.dev_issuer import DevIssuer
from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    published_acks,
    register,
    rule_message,
    sqs_record,
)

DEEP = b"[" * 50_000 + b"]" * 50_000


def _citizen_with_code(api: Api, who: str = "citizen-1", phone: str | None = None) -> str:
    register(api, who, phone=phone)
    return str(api.call("POST", "/v1/me/deposit-codes", as_user=who).body["code"])


def _deliver(*messages: tuple[str, dict[str, Any] | bytes]) -> dict[str, Any]:
    records = [
        sqs_record(rule_message(device, payload), f"m{i}")
        for i, (device, payload) in enumerate(messages)
    ]
    return invoke_deposits(records)


def _acks() -> list[dict[str, Any]]:
    return [ack for topic, ack in published_acks() if topic.endswith("/deposits/ack")]


def _quarantine(api: Api, source: str = "deposits") -> list[dict[str, Any]]:
    answer = api.call("GET", f"/v1/admin/quarantine?source={source}", as_user="ops", admin=True)
    assert answer.status == 200
    return list(answer.body["items"])


def _balance(api: Api, who: str = "citizen-1") -> int:
    return int(api.call("GET", "/v1/me", as_user=who).body["balance"])


def _error(answer: Any, status: int, code: str | None = None) -> None:
    assert answer.status == status, answer.body
    assert set(answer.body["error"]) == {"code", "message", "details"}
    if code is not None:
        assert answer.body["error"]["code"] == code


# ----------------------------------------------------------------------------- JSON


def test_a_body_nested_too_deeply_is_a_400(api: Api) -> None:
    _error(api.call("PUT", "/v1/me", as_user="c-1", raw=DEEP), 400, "invalid_json")
    nested = b'{"display_name": ' + b"[" * 5000 + b"]" * 5000 + b', "district": "x"}'
    _error(api.call("PUT", "/v1/me", as_user="c-1", raw=nested), 400, "invalid_json")


def test_an_oversized_body_is_a_413(api: Api) -> None:
    raw = json.dumps({"display_name": "a" * 300_000, "district": "naeoe-dong"}).encode()
    _error(api.call("PUT", "/v1/me", as_user="c-1", raw=raw), 413, "body_too_large")


@pytest.mark.parametrize(
    "key",
    [
        DEEP[:20_000] + DEEP[-20_000:],
        b'{"citizen_id": {"S": "c-1"}, "entry_id": {"S": "' + b"e" * 3000 + b'"}}',
        b'{"citizen_id": {"S": "c-1"}, "entry_id": {"S": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
        b'"\\ud800"',
    ],
)
def test_a_hostile_cursor_is_a_400(api: Api, key: bytes) -> None:
    _citizen_with_code(api, "c-1")
    cursor = base64.urlsafe_b64encode(key).decode().rstrip("=")
    answer = api.call("GET", f"/v1/me/ledger?cursor={cursor}", as_user="c-1")
    _error(answer, 400, "invalid_cursor")


def test_a_device_payload_nested_too_deeply_is_answered_and_quarantined(api: Api) -> None:
    code = _citizen_with_code(api)
    # WHEN a robot sends a payload nested 50,000 deep, then a good deposit, in one batch
    result = _deliver(("robot-001", DEEP), ("robot-001", deposit("evt-after-deep", code, can=1)))
    # THEN the batch does not fail, the robot is told, the next deposit is credited
    assert result == {"batchItemFailures": []}
    assert [a["status"] for a in _acks()] == ["rejected", "credited"]
    (item,) = _quarantine(api)
    assert item["reason"] == "malformed_json" and "nested deeper" in item["details"]


def test_a_rule_error_nested_too_deeply_is_kept(api: Api) -> None:
    from app import handle_rule_errors
    from infra.local.lambda_runtime import LambdaContext

    event = {"Records": [sqs_record(DEEP.decode(), "e1")]}
    assert handle_rule_errors(event, LambdaContext("rule-errors")) == {"batchItemFailures": []}
    (item,) = _quarantine(api, "rule-errors")
    assert item["reason"] == "rule_action_failed"


# ----------------------------------------------------------------------------- phones

FULL_WIDTH = "０１０-５５５５-６６６６"
WRITINGS = [
    "010-5555-6666",
    "+82-(0)10-5555-6666",
    "+82 10 5555 6666",
    "0 1 0 5 5 5 5 6 6 6 6",
    FULL_WIDTH,
    "٠١٠٥٥٥٥٦٦٦٦",
]


def _no_number_in(text: str) -> None:
    folded = "".join(str(int(c)) for c in text if c.isdecimal())
    assert "55556666" not in folded, text
    assert "\\uff15" not in text.lower(), text


def test_a_phone_number_in_other_digits_is_a_422_over_http(api: Api) -> None:
    register(api, "c-1")
    answer = api.call("POST", "/v1/me/phone", as_user="c-1", body={"phone": FULL_WIDTH})
    _error(answer, 422, "validation_failed")
    _no_number_in(json.dumps(answer.body, ensure_ascii=False))


@pytest.mark.parametrize("written", [FULL_WIDTH, "٠١٠٥٥٥٥٦٦٦٦", "010-5555-666６"])
def test_a_phone_number_in_other_digits_is_rejected_over_mqtt(api: Api, written: str) -> None:
    # GIVEN a citizen whose real number is linked
    _citizen_with_code(api, phone="010-5555-6666")
    # WHEN a robot names the citizen by the number written in other digits
    result = _deliver(("robot-001", deposit("evt-fullwidth", phone=written, can=1)))
    # THEN no crash (nothing for the dead-letter queue), the robot hears invalid_payload, the
    # message is quarantined without the number, nothing is credited
    assert result == {"batchItemFailures": []}
    assert _acks() == [
        {"event_id": "evt-fullwidth", "status": "rejected", "reason": "invalid_payload"}
    ]
    (item,) = _quarantine(api)
    assert item["reason"] == "invalid_payload"
    _no_number_in(json.dumps(item, ensure_ascii=False))
    assert _balance(api) == 0


@pytest.mark.parametrize("written", WRITINGS)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_a_number_written_any_way_never_reaches_quarantine(
    api: Api, written: str, ascii_only: bool
) -> None:
    # WHEN unparseable messages carry the number, raw and as JSON escapes
    text = json.dumps(
        {"citizen": {"phone": written}, "note": f"call {written}"}, ensure_ascii=ascii_only
    )
    _deliver(("robot-001", text[:-1].encode() + b", oops"))
    _deliver(("robot-001", {"event_id": "evt-notes-01", "note": written, "items": "x"}))
    # THEN what admins see holds no form of it
    items = _quarantine(api)
    assert len(items) == 2
    _no_number_in(json.dumps(items, ensure_ascii=False))


def test_an_envelope_that_cannot_be_read_keeps_no_number(api: Api) -> None:
    payload = base64.b64encode(b'{"citizen": {"phone": "010-5555-6666"}}').decode()
    body = json.dumps({"payload": payload, "device_id": ""})  # no device: invalid envelope
    assert invoke_deposits([sqs_record(body, "m0")]) == {"batchItemFailures": []}
    (item,) = _quarantine(api)
    assert item["reason"] == "invalid_envelope"
    assert "citizen" in item["payload"] and "<phone>" in item["payload"]  # decoded, redacted
    _no_number_in(json.dumps(item))


def test_an_event_id_that_is_a_phone_number_is_redacted_in_quarantine(api: Api) -> None:
    _deliver(("robot-001", {"event_id": "01055556666", "citizen": {"code": "12"}}))
    (item,) = _quarantine(api)
    _no_number_in(json.dumps(item))


# ----------------------------------------------------------------------------- tokens


def _bearer(issuer: DevIssuer, sub: Any, **claims: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {issuer.mint(sub, **claims)}"}


@pytest.mark.parametrize(
    "group", ["citizen,admin", "admin,", ",admin", 'x","admin', "admin ", " admin"]
)
def test_a_group_name_holding_the_separator_grants_nothing(
    api: Api, issuer: DevIssuer, group: str
) -> None:
    headers = _bearer(issuer, "sneaky", **{"cognito:groups": [group]})
    answer = api.call("GET", "/v1/admin/quarantine", headers=headers)
    _error(answer, 403, "forbidden_role")


@pytest.mark.parametrize("sub", ["a" * 2000, "a" * 129, "x\ny", "a b", "시민", "a\u202eb"])
def test_an_odd_subject_is_a_401(api: Api, issuer: DevIssuer, sub: str) -> None:
    _error(api.call("GET", "/v1/me", headers=_bearer(issuer, sub)), 401)


@pytest.mark.parametrize(
    "claims",
    [{"cognito:groups": "admin"}, {"cognito:groups": [["admin"]]}, {"cognito:groups": ["a"] * 500}],
)
def test_odd_groups_are_a_401(api: Api, issuer: DevIssuer, claims: dict[str, Any]) -> None:
    _error(api.call("GET", "/v1/me", headers=_bearer(issuer, "c-1", **claims)), 401)


def test_a_token_with_a_non_string_subject_is_a_401(api: Api, issuer: DevIssuer) -> None:
    token = issuer.mint(12345)  # type: ignore[arg-type]
    _error(api.call("GET", "/v1/me", headers={"authorization": f"Bearer {token}"}), 401)


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=") + ".e30.sig",
        "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(DEEP[:8000]).decode() + ".",
        "a" * 20_000,
        "a.b.c.d",
    ],
)
def test_a_garbled_unsigned_token_is_a_401(api: Api, token: str) -> None:
    _error(api.call("GET", "/v1/me", headers={"authorization": f"Bearer {token}"}), 401)


# ----------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("accepted", "3"),
        ("accepted", 3.0),
        ("accepted", True),
        ("accepted", 3.5),
        ("rejected", "0"),
        ("occurred_at", 1764032400),
        ("occurred_at", "2026-11-25T10:00:00"),
    ],
)
def test_a_loosely_typed_deposit_is_rejected_and_quarantined(
    api: Api, field: str, value: Any
) -> None:
    # GIVEN a citizen with a code
    code = _citizen_with_code(api)
    good = deposit("evt-loose-001", code, can=3)
    loose = json.loads(json.dumps(good))
    if field == "occurred_at":
        loose["occurred_at"] = value
    else:
        loose["items"][0][field] = value
    # WHEN the loose deposit arrives, then a correct one with the same code
    result = _deliver(("robot-001", loose), ("robot-001", {**good, "event_id": "evt-strict-01"}))
    # THEN the first is refused invalid_payload and quarantined naming the field, the second
    # is credited: 3 cans, 45 points, once
    assert result == {"batchItemFailures": []}
    acks = _acks()
    assert acks[0] == {
        "event_id": "evt-loose-001",
        "status": "rejected",
        "reason": "invalid_payload",
    }
    assert acks[1]["status"] == "credited" and acks[1]["points"] == 45
    (item,) = _quarantine(api)
    assert item["reason"] == "invalid_payload" and field in item["details"]
    assert _balance(api) == 45


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    [
        "evil\u202egnp.exe",
        "a\u2066b\u2069",
        "zero\u200bwidth",
        "bell\u0007",
        "\u3164",
        "  ",
        "x" * 31,
    ],
)
def test_a_display_name_that_would_mislead_is_a_422(api: Api, name: str) -> None:
    body = {"display_name": name, "district": "naeoe-dong"}
    _error(api.call("PUT", "/v1/me", as_user="c-1", body=body), 422, "invalid_display_name")


def test_a_korean_name_with_emoji_is_stored_nfc(api: Api) -> None:
    decomposed = "\u1100\u1175\u11b7\u1112\u1162 \U0001f331"  # 김해 in jamo, then a sprout
    body = {"display_name": f"  {decomposed} ", "district": "naeoe-dong"}
    assert api.call("PUT", "/v1/me", as_user="c-1", body=body).status == 200
    assert api.call("GET", "/v1/me", as_user="c-1").body["display_name"] == "김해 \U0001f331"
