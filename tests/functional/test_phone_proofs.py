"""A phone number is linked only by the one who proves it with the SMS code (DESIGN §4):
through the real routes on moto, the code read from what SNS sent."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest

from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    link_phone,
    published_acks,
    register,
    rule_message,
    sent_sms,
    sms_code,
    sqs_record,
)

NUMBER = "010-2345-6789"


def _send(api: Api, who: str, number: str = NUMBER) -> Any:
    return api.call("POST", "/v1/me/phone", as_user=who, body={"phone": number})


def _verify(api: Api, who: str, verification_id: str, code: str) -> Any:
    body = {"verification_id": verification_id, "code": code}
    return api.call("POST", "/v1/me/phone/verify", as_user=who, body=body)


def _deposit_by_phone(event_id: str, number: str, can: int = 1) -> dict[str, Any]:
    """A robot's deposit identified by phone; answers the ack the robot got."""
    message = rule_message("robot-001", deposit(event_id, phone=number, can=can))
    invoke_deposits([sqs_record(message, f"m-{event_id}")])
    return next(ack for _, ack in reversed(published_acks()) if ack["event_id"] == event_id)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _balance(api: Api, who: str) -> int:
    return int(api.call("GET", "/v1/me", as_user=who).body["balance"])


def _notifications(citizen_id: str) -> list[Any]:
    from chalicelib.adapters.dynamodb_models import Notification

    return list(Notification.query(citizen_id, Notification.notification_id < "~"))


@contextlib.contextmanager
def _writes() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB write request the code makes meanwhile."""
    found: list[tuple[str, dict[str, Any]]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb" and operation in (
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "TransactWriteItems",
            "BatchWriteItem",
        ):
            found.append((operation, params))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield found
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def test_a_proven_number_is_linked_and_robots_credit_its_prover(api: Api) -> None:
    register(api, "kim")
    # WHEN Kim asks for a code
    sent = _send(api, "kim")
    assert sent.status == 202
    assert set(sent.body) == {"verification_id", "expires_at"}
    assert sent.body["expires_at"].endswith("+09:00")
    # THEN one SMS reached the number, with a 6-digit code and nothing else of the number
    (text,) = sent_sms(NUMBER)
    assert "6789" not in text
    # WHEN Kim sends the code back
    verified = _verify(api, "kim", sent.body["verification_id"], sms_code(NUMBER))
    assert verified.status == 200
    assert verified.body["phone_linked"] is True
    assert api.call("GET", "/v1/me", as_user="kim").body["phone_linked"] is True
    # THEN a robot deposit by that number credits Kim
    ack = _deposit_by_phone("evt-phone-0001", "01023456789", can=2)
    assert (ack["status"], ack["points"], ack["balance"]) == ("credited", 30, 30)
    assert _balance(api, "kim") == 30


def test_nothing_of_the_number_or_the_code_is_stored_in_clear(api: Api) -> None:
    register(api, "kim")
    link_phone(api, "kim", NUMBER)
    code = sms_code(NUMBER)
    from chalicelib.adapters.dynamodb_models import PhoneLink, PhoneVerification

    stored = json.dumps(
        [i.to_simple_dict() for i in PhoneVerification.scan()]
        + [i.to_simple_dict() for i in PhoneLink.scan()],
        default=str,
    )
    for secret in ("01023456789", "1023456789", "2345-6789", code):
        assert secret not in stored


def test_a_wrong_code_is_422_and_the_sixth_try_finds_the_verification_spent(api: Api) -> None:
    register(api, "kim")
    sent = _send(api, "kim").body
    right = sms_code(NUMBER)
    for left in (4, 3, 2, 1, 0):
        answer = _verify(api, "kim", sent["verification_id"], _wrong(right))
        assert answer.status == 422
        assert answer.body["error"]["code"] == "wrong_code"
        assert answer.body["error"]["details"] == [{"tries_left": left}]
    # THEN even the right code is too late: five tries were all it had
    late = _verify(api, "kim", sent["verification_id"], right)
    assert late.status == 409
    assert late.body["error"]["code"] == "verification_expired"
    assert api.call("GET", "/v1/me", as_user="kim").body["phone_linked"] is False


def test_a_code_expires_after_five_minutes(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring
    from chalicelib.domain import clock

    register(api, "kim")
    sent = _send(api, "kim").body
    # WHEN the code comes back 5 minutes and a second later (a new container's clock)
    later = datetime.now(UTC) + timedelta(minutes=5, seconds=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    wiring.clear()
    answer = _verify(api, "kim", sent["verification_id"], sms_code(NUMBER))
    # THEN it is refused as expired and nothing is linked
    assert answer.status == 409
    assert answer.body["error"]["code"] == "verification_expired"
    assert api.call("GET", "/v1/me", as_user="kim").body["phone_linked"] is False


def test_a_replayed_verify_answers_the_same_link_once_and_nothing_more(api: Api) -> None:
    register(api, "kim")
    register(api, "lee", phone=NUMBER)
    sent = _send(api, "kim").body
    code = sms_code(NUMBER)
    first = _verify(api, "kim", sent["verification_id"], code)
    assert first.status == 200
    # WHEN the same verify arrives again (an app retrying an answer it lost)
    again = _verify(api, "kim", sent["verification_id"], code)
    # THEN it answers the same link, and Lee was told once
    assert again.status == 200 and again.body["phone_linked"] is True
    assert len(_notifications("lee")) == 1
    # BUT a replay by another citizen, or with another code, finds it spent
    for who, guess in (("lee", code), ("kim", _wrong(code))):
        refused = _verify(api, who, sent["verification_id"], guess)
        assert refused.status == 409
        assert refused.body["error"]["code"] == "verification_expired"
    # AND once the number moved on, the old verification cannot take it back
    link_phone(api, "lee", NUMBER)
    assert _verify(api, "kim", sent["verification_id"], code).status == 409
    assert api.call("GET", "/v1/me", as_user="kim").body["phone_linked"] is False


def test_another_citizens_verification_is_useless(api: Api) -> None:
    register(api, "kim")
    register(api, "mallory")
    sent = _send(api, "kim").body
    stolen = _verify(api, "mallory", sent["verification_id"], sms_code(NUMBER))
    assert stolen.status == 409
    assert api.call("GET", "/v1/me", as_user="mallory").body["phone_linked"] is False
    # AND the refused attempt cost Kim nothing
    assert _verify(api, "kim", sent["verification_id"], sms_code(NUMBER)).status == 200


def test_sends_are_limited_per_citizen(api: Api) -> None:
    register(api, "kim")
    numbers = [f"010-1000-{i:04d}" for i in range(6)]
    assert [_send(api, "kim", n).status for n in numbers[:5]] == [202] * 5
    refused = _send(api, "kim", numbers[5])
    assert refused.status == 429
    assert refused.body["error"]["code"] == "too_many_codes"
    assert sent_sms(numbers[5]) == []


def test_sends_are_limited_per_number_whoever_asks(api: Api) -> None:
    for who in ("a", "b", "c", "d"):
        register(api, who)
    assert [_send(api, who).status for who in ("a", "b", "c")] == [202] * 3
    refused = _send(api, "d")
    assert refused.status == 429
    assert refused.body["error"]["code"] == "too_many_codes"
    assert len(sent_sms(NUMBER)) == 3


def test_verify_attempts_are_limited_per_citizen_across_verifications(api: Api) -> None:
    register(api, "mallory")
    statuses = []
    for i in range(4):
        number = f"010-3000-{i:04d}"
        sent = _send(api, "mallory", number).body
        for _ in range(5):
            statuses.append(_verify(api, "mallory", sent["verification_id"], "000000").status)
    # 15 tries an hour, then 429 whatever the verification
    assert statuses[:15].count(429) == 0
    assert set(statuses[15:]) == {429}


def test_a_held_and_a_free_number_get_the_same_answer(api: Api) -> None:
    register(api, "owner", phone=NUMBER)
    register(api, "probe")
    held = _send(api, "probe", NUMBER)
    free = _send(api, "probe", "010-9876-5432")
    assert held.status == free.status == 202
    assert set(held.body) == set(free.body)
    assert held.headers.get("content-type") == free.headers.get("content-type")
    assert len(held.body["verification_id"]) == len(free.body["verification_id"])
    # AND both numbers were texted a code, as any number is
    assert len(sent_sms(NUMBER)) == 2 and len(sent_sms("010-9876-5432")) == 1


def test_the_number_moves_to_the_last_prover_in_one_transaction_and_the_holder_is_told(
    api: Api,
) -> None:
    # GIVEN Lee holds the number and has earned by it
    register(api, "lee", phone=NUMBER)
    assert _deposit_by_phone("evt-move-0001", NUMBER, can=2)["balance"] == 30
    register(api, "kim")
    sent = _send(api, "kim").body
    # WHEN Kim proves the number
    with _writes() as writes:
        answer = _verify(api, "kim", sent["verification_id"], sms_code(NUMBER))
    assert answer.status == 200
    # THEN the move is one transaction (after the attempt's count and the try's write)
    writes = [(op, p) for op, p in writes if p.get("TableName") != "gimhae-dev-rate-windows"]
    assert [op for op, _ in writes] == ["UpdateItem", "TransactWriteItems"]
    tables = sorted(
        next(iter(item.values()))["TableName"].removeprefix("gimhae-dev-")
        for item in writes[1][1]["TransactItems"]
    )
    assert tables == [
        "citizens",
        "citizens",
        "notifications",
        "notifications",  # the notice, and the holder's unread counter with it
        "phone-links",
        "phone-verifications",
    ]
    # AND Lee no longer holds it, keeps the points, and finds a notice in Korean
    lee = api.call("GET", "/v1/me", as_user="lee").body
    assert (lee["phone_linked"], lee["balance"]) == (False, 30)
    (notice,) = _notifications("lee")
    assert notice.kind == "phone_number_moved" and notice.read is False
    assert "휴대폰 번호" in notice.title and "6789" not in notice.body
    # AND robots credit Kim from now on, even when the robot's snapshot was Lee's
    ack = _deposit_by_phone("evt-move-0002", NUMBER, can=1)
    assert (ack["status"], ack["balance"]) == ("credited", 15)
    assert (_balance(api, "kim"), _balance(api, "lee")) == (15, 30)


def test_a_deposit_code_issued_before_the_move_still_credits_its_holder(api: Api) -> None:
    # The code's snapshot names the moved number: it must not post against the link.
    register(api, "lee", phone=NUMBER)
    code = api.call("POST", "/v1/me/deposit-codes", as_user="lee").body["code"]
    register(api, "kim")
    link_phone(api, "kim", NUMBER)
    message = rule_message("robot-001", deposit("evt-code-0001", code, can=1))
    invoke_deposits([sqs_record(message, "m-code")])
    assert _balance(api, "lee") == 15
    assert _deposit_by_phone("evt-code-0002", NUMBER, can=2)["balance"] == 30
    assert (_balance(api, "lee"), _balance(api, "kim")) == (15, 30)


def test_relinking_a_different_number_frees_the_old_one(api: Api) -> None:
    register(api, "kim", phone=NUMBER)
    link_phone(api, "kim", "010-5555-1212")
    assert _deposit_by_phone("evt-re-0001", NUMBER)["reason"] == "unknown_citizen"
    assert _deposit_by_phone("evt-re-0002", "01055551212")["status"] == "credited"


def test_unlink_stops_deposits_by_phone(api: Api) -> None:
    register(api, "kim", phone=NUMBER)
    answer = api.call("DELETE", "/v1/me/phone", as_user="kim")
    assert answer.status == 200 and answer.body["phone_linked"] is False
    assert api.call("GET", "/v1/me", as_user="kim").body["phone_linked"] is False
    assert _deposit_by_phone("evt-un-0001", NUMBER)["reason"] == "unknown_citizen"
    # AND unlinking again is harmless
    assert api.call("DELETE", "/v1/me/phone", as_user="kim").status == 200


@pytest.mark.parametrize("phone", ["010-2345-6789", None, 1, {"n": 1}])
def test_put_me_no_longer_takes_a_phone(api: Api, phone: Any) -> None:
    body = {"display_name": "kim", "district": "naeoe-dong", "phone": phone}
    answer = api.call("PUT", "/v1/me", as_user="kim", body=body)
    assert answer.status == 422
    assert answer.body["error"]["code"] == "phone_needs_verification"
    assert api.call("GET", "/v1/me", as_user="kim").status == 404


def test_sending_needs_a_profile_and_a_mobile_number(api: Api) -> None:
    assert _send(api, "nobody").status == 404
    register(api, "kim")
    for bad in ("02-123-4567", "０１０-２３４５-６７８９", "010-2345-678"):
        assert _send(api, "kim", bad).status == 422
    assert api.call("POST", "/v1/me/phone", as_user="kim", body={"phone": 1}).status == 400
    assert _verify(api, "kim", "x" * 65, "123456").status == 422
    assert _verify(api, "kim", "abc", "12345").status == 422


def test_links_made_before_proof_keep_working_until_proven_elsewhere(api: Api) -> None:
    # GIVEN a link made by PUT /v1/me before proof was required (no proven_at)
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_models import Citizen, PhoneLink
    from chalicelib.domain.phones import phone_hash

    register(api, "old")
    digest = phone_hash("01023456789", aws_clients.phone_hash_key())
    row = Citizen.get("old")
    row.update(actions=[Citizen.phone_hash.set(digest)])
    PhoneLink(digest, citizen_id="old", linked_at=datetime.now(UTC)).save()
    # THEN robots still credit it
    assert _deposit_by_phone("evt-old-0001", NUMBER)["status"] == "credited"
    assert _balance(api, "old") == 15
    # AND a prover takes it over like any other link; the old holder is told
    register(api, "kim")
    link_phone(api, "kim", NUMBER)
    assert PhoneLink.get(digest).proven_at is not None
    assert api.call("GET", "/v1/me", as_user="old").body["phone_linked"] is False
    assert len(_notifications("old")) == 1
    assert _deposit_by_phone("evt-old-0002", NUMBER)["balance"] == 15
    assert (_balance(api, "old"), _balance(api, "kim")) == (15, 15)
