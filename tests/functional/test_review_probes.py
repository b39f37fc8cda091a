"""Hostile probes of the phone-proof, payout-export and profile routes: every answer below
500, in the JSON error shape, and nothing about a number or a code leaks into an answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.conftest import Api, register, sms_code

NUMBER = "010-3456-7890"

_BODIES: list[Any] = [
    {},
    {"phone": None},
    {"phone": 1034567890},
    {"phone": ["01034567890"]},
    {"phone": {"a": 1}},
    {"phone": True},
    {"phone": ""},
    {"phone": "０１０３４５６７８９０"},
    {"phone": "01034567890\n"},
    {"phone": "+82 (0)10-3456-7890"},
    {"phone": "8201034567890"},
    {"phone": "010" + "1" * 10_000},
    {"phone": "01034567890", "extra": 1},
    {"phone": "\ud800"},
    {"phone": "010‮34567890"},
    {"phone": 10**400},
    {"phone": 1.5e308},
]


@pytest.mark.parametrize("body", _BODIES, ids=range(len(_BODIES)))
def test_send_code_answers_every_body_in_the_error_shape(api: Api, body: Any) -> None:
    register(api, "probe-a")
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    r = api.call("POST", "/v1/me/phone", as_user="probe-a", raw=raw)
    assert r.status < 500, r.body
    if r.status >= 400:
        assert set(r.body["error"]) == {"code", "message", "details"}
        assert "3456" not in json.dumps(r.body, ensure_ascii=False)


_RAWS = [
    b"",
    b"null",
    b"[]",
    b'"x"',
    b"{",
    b"\xff\xfe",
    b'{"phone": "\\u0000"}',
    b"[" * 5000 + b"]" * 5000,
]


@pytest.mark.parametrize("path", ["/v1/me/phone", "/v1/me/phone/verify"])
@pytest.mark.parametrize("raw", _RAWS, ids=range(len(_RAWS)))
def test_malformed_bodies_are_4xx(api: Api, path: str, raw: bytes) -> None:
    register(api, "probe-b")
    r = api.call("POST", path, as_user="probe-b", raw=raw or None)
    assert 400 <= r.status < 500, (r.status, r.body)
    assert set(r.body["error"]) == {"code", "message", "details"}


_VERIFY: list[Any] = [
    {"verification_id": "nope", "code": "123456"},
    {"verification_id": "x" * 64, "code": "123456"},
    {"verification_id": "x" * 65, "code": "123456"},
    {"verification_id": "a\n", "code": "123456"},
    {"verification_id": "a", "code": "12345"},
    {"verification_id": "a", "code": "1234567"},
    {"verification_id": "a", "code": "１２３４５６"},
    {"verification_id": "a", "code": "123456\n"},
    {"verification_id": "a", "code": 123456},
    {"verification_id": 1, "code": "123456"},
    {"verification_id": "a"},
    {"code": "123456"},
    {"verification_id": "a", "code": "٠١٢٣٤٥"},
]


@pytest.mark.parametrize("body", _VERIFY, ids=range(len(_VERIFY)))
def test_verify_answers_every_body_in_the_error_shape(api: Api, body: Any) -> None:
    register(api, "probe-c")
    r = api.call("POST", "/v1/me/phone/verify", as_user="probe-c", body=body)
    assert 400 <= r.status < 500, (r.status, r.body)
    assert set(r.body["error"]) == {"code", "message", "details"}


def test_unregistered_callers(api: Api) -> None:
    for method, path, body in [
        ("POST", "/v1/me/phone", {"phone": NUMBER}),
        ("POST", "/v1/me/phone/verify", {"verification_id": "abc", "code": "123456"}),
        ("DELETE", "/v1/me/phone", None),
    ]:
        r = api.call(method, path, as_user="ghost", body=body)
        assert 400 <= r.status < 500, (method, path, r.status, r.body)


def test_verify_answer_and_profile_leak_no_number(api: Api) -> None:
    register(api, "probe-d")
    sent = api.call("POST", "/v1/me/phone", as_user="probe-d", body={"phone": NUMBER})
    assert sent.status == 202
    assert set(sent.body) == {"verification_id", "expires_at"}
    code = sms_code(NUMBER)
    ok = api.call(
        "POST",
        "/v1/me/phone/verify",
        as_user="probe-d",
        body={"verification_id": sent.body["verification_id"], "code": code},
    )
    assert ok.status == 200
    for r in (ok, api.call("GET", "/v1/me", as_user="probe-d")):
        text = json.dumps(r.body)
        assert "34567890" not in text and code not in text


def test_deleting_twice_and_without_a_link(api: Api) -> None:
    register(api, "probe-e")
    for _ in range(2):
        r = api.call("DELETE", "/v1/me/phone", as_user="probe-e")
        assert r.status == 200, r.body
        assert r.body["phone_linked"] is False


_LONE = "\ud800x"


def _lone_everywhere(body: Any) -> list[Any]:
    """The body with each string value in turn replaced by one holding a lone surrogate."""
    out: list[Any] = []

    def walk(node: Any, replace: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str):
                    out.append(replace({**node, k: _LONE}))
                else:
                    walk(v, lambda new, k=k: replace({**node, k: new}))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str):
                    out.append(replace([*node[:i], _LONE, *node[i + 1 :]]))
                else:
                    walk(v, lambda new, i=i: replace([*node[:i], new, *node[i + 1 :]]))

    walk(body, lambda new: new)
    return out


_WRITES = [
    ("PUT", "/v1/me", False, {"display_name": "걷는사람", "district": "naeoe-dong"}),
    ("POST", "/v1/me/phone", False, {"phone": "010-1111-2222"}),
    ("POST", "/v1/me/phone/verify", False, {"verification_id": "abc", "code": "123456"}),
    (
        "PUT",
        "/v1/me/payout-account",
        False,
        {"bank": "NH", "account_number": "302-1234-5678-91", "holder": "홍길동"},
    ),
    ("PUT", "/v1/me/steps", False, {"days": [{"date": "2026-12-07", "steps": 10}]}),
    (
        "POST",
        "/v1/admin/challenges",
        True,
        {
            "title": "걷기",
            "kind": "total_steps",
            "starts_on": "2026-12-10",
            "ends_on": "2026-12-20",
            "target": 1000,
            "district": "naeoe-dong",
            "prize": {"type": "lottery", "points": 10, "winners": 1},
        },
    ),
    ("POST", "/v1/admin/payout-runs", True, {"period": "2026-11"}),
]


@pytest.mark.parametrize("method,path,admin,body", _WRITES, ids=[w[1] for w in _WRITES])
def test_lone_surrogates_in_any_string_field_are_4xx(
    api: Api, method: str, path: str, admin: bool, body: Any
) -> None:
    register(api, "probe-s")
    for hostile in _lone_everywhere(body):
        raw = json.dumps(hostile).encode()
        r = api.call(method, path, as_user="probe-s", admin=admin, raw=raw)
        assert r.status < 500, (hostile, r.status, r.body)


_QUERIES = [
    "/v1/leaderboards/steps?period=%ED%A0%80",
    "/v1/leaderboards/steps?period=%FF",
    "/v1/leaderboards/steps?limit=%00",
    "/v1/leaderboards/steps?scope=district:%ED%A0%80",
    "/v1/leaderboards/steps?date=%ED%A0%80",
    "/v1/leaderboards/steps?date=2026-13-45",
    "/v1/leaderboards/steps?date=99999-01-01",
    "/v1/leaderboards/districts?date=0001-01-01",
    "/v1/leaderboards/steps?date=0001-01-01&period=week",
    "/v1/leaderboards/steps?date=9999-12-31&period=week",
    "/v1/me/ledger?cursor=%ED%A0%80",
    "/v1/me/ledger?cursor=eyJ4IjoxfQ",
    "/v1/me/ledger?cursor=" + "A" * 1024,
    "/v1/shelters/shelter-001/air?hours=99999999999",
    "/v1/admin/quarantine?source=%ED%A0%80",
    "/v1/admin/payout-runs/r1/export?format=%ED%A0%80",
    "/v1/admin/payout-runs/r1/export?format=xlsx",
]


@pytest.mark.parametrize("path", _QUERIES)
def test_hostile_query_values_are_4xx_or_answers(api: Api, path: str) -> None:
    register(api, "probe-q")
    r = api.call("GET", path, as_user="probe-q", admin=True)
    assert r.status < 500, (r.status, r.body)


@pytest.mark.parametrize("received_at", [None, "soon", 1.5, 10**400, 0])
def test_a_deposit_quarantined_for_its_receipt_time_names_no_phone(
    api: Api, received_at: Any
) -> None:
    import base64

    from tests.functional.conftest import deposit, invoke_deposits, rule_message, sqs_record

    message = rule_message("robot-001", deposit("evt-probe-rt1", phone="010-7777-3141", can=1))
    if received_at is None:
        message.pop("received_at", None)
    else:
        message["received_at"] = received_at
    invoke_deposits([sqs_record(message, "m-probe-rt1")])
    entries = api.call("GET", "/v1/admin/quarantine?source=deposits", as_user="adm", admin=True)
    assert entries.status == 200
    text = json.dumps(entries.body, ensure_ascii=False)
    assert entries.body["items"], entries.body
    assert "7777" not in text and "3141" not in text
    encoded = base64.b64encode(b"010-7777-3141").decode()[:8]
    assert encoded not in text
