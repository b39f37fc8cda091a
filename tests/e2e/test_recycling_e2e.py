"""The recycling slice end to end: a robot publishes over MQTT (mTLS) through the broker,
the topic rule, SQS and the real handler; the citizen sees the result through the API."""

from __future__ import annotations

import functools
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import queues
from iot.device import NotAuthorizedError, RobotClient, new_event_id
from tests.e2e.conftest import Stack, eventually

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")


def _citizen(stack: Stack, who: str, phone: str | None = None) -> str:
    token = stack.token(who)
    body: dict[str, Any] = {"display_name": who, "district": "naeoe-dong"}
    status, answer = stack.http("PUT", "/v1/me", token=token, body=body)
    assert status == 200, answer
    if phone:
        stack.link_phone(token, phone)
    return token


def _code(stack: Stack, token: str) -> str:
    status, body = stack.http("POST", "/v1/me/deposit-codes", token=token)
    assert status == 201, body
    return str(body["code"])


def _event(
    citizen: dict[str, str],
    can: int = 0,
    pet: int = 0,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or new_event_id(),
        "citizen": citizen,
        "items": [
            {"material": "can", "accepted": can, "rejected": 0},
            {"material": "pet", "accepted": pet, "rejected": 1},
        ],
        "occurred_at": (occurred_at or datetime.now(UTC)).astimezone(SEOUL).isoformat(),
    }


def _balance(stack: Stack, token: str) -> int:
    status, body = stack.http("GET", "/v1/me", token=token)
    assert status == 200, body
    return int(body["balance"])


_eventually = functools.partial(eventually, timeout=15.0)


def _deposits_in_queue(stack: Stack) -> int:
    """Messages on the deposits queue, visible or in flight (not yet deleted)."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    url = sqs.get_queue_url(QueueName=queues.DEPOSITS.name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


@pytest.fixture(scope="module")
def robots(stack: Stack) -> Any:
    one, two = stack.robot("robot-001"), stack.robot("robot-002")
    yield one, two
    one.disconnect()
    two.disconnect()


def test_a_deposit_is_credited_acked_and_visible_in_the_app(stack: Stack, robots: Any) -> None:
    robot, _ = robots
    # GIVEN a citizen who shows a fresh code at robot-001
    token = _citizen(stack, "e2e-alice")
    code = _code(stack, token)
    # WHEN the robot reports 3 cans and 2 PET bottles
    ack = robot.deposit(_event({"code": code}, can=3, pet=2))
    # THEN the robot is told 65 points, and the app shows the balance and the ledger entry
    assert (ack["status"], ack["points"], ack["balance"]) == ("credited", 65, 65)
    assert _balance(stack, token) == 65
    status, ledger = stack.http("GET", "/v1/me/ledger", token=token)
    assert status == 200
    assert [(e["points"], e["balance_after"]) for e in ledger["entries"]] == [(65, 65)]


def test_the_same_event_three_times_is_credited_once(stack: Stack, robots: Any) -> None:
    robot, _ = robots
    token = _citizen(stack, "e2e-bob")
    event = _event({"code": _code(stack, token)}, can=2)
    acks = [robot.deposit(event) for _ in range(3)]
    assert [a["status"] for a in acks] == ["credited", "duplicate", "duplicate"]
    assert {(a["points"], a["balance"]) for a in acks} == {(30, 30)}
    assert _balance(stack, token) == 30


def test_used_and_expired_codes_are_rejected(stack: Stack, robots: Any) -> None:
    robot, other = robots
    token = _citizen(stack, "e2e-carol")
    code = _code(stack, token)
    assert robot.deposit(_event({"code": code}, can=1))["status"] == "credited"
    # WHEN the same code is used again at another robot
    used = other.deposit(_event({"code": code}, can=1))
    # AND a fresh code is used for a deposit made after it expired
    late = datetime.now(UTC) + timedelta(minutes=6)
    expired = robot.deposit(_event({"code": _code(stack, token)}, can=1, occurred_at=late))
    # THEN both are rejected with their reasons and nothing more is credited
    assert (used["status"], used["reason"]) == ("rejected", "code_used")
    assert (expired["status"], expired["reason"]) == ("rejected", "expired_code")
    assert _balance(stack, token) == 15


def test_a_robot_cannot_publish_as_another(stack: Stack, robots: Any) -> None:
    robot, other = robots
    token = _citizen(stack, "e2e-dave")
    code = _code(stack, token)
    witness = _citizen(stack, "e2e-dave-witness")
    # WHEN robot-002 publishes a deposit on robot-001's topic, then one on its own
    with pytest.raises(NotAuthorizedError):
        other.publish(robot.deposits_topic, _event({"code": code}, can=50))
    later = other.deposit(_event({"code": _code(stack, witness)}, can=1))
    # THEN the later one went through the pipeline, the refused one credited nothing
    assert later["status"] == "credited"
    assert _balance(stack, token) == 0
    # AND the code is still unused
    assert robot.deposit(_event({"code": code}, can=1))["status"] == "credited"
    assert _balance(stack, token) == 15


def test_bad_messages_are_quarantined_and_the_next_deposit_is_credited(
    stack: Stack, robots: Any
) -> None:
    robot, _ = robots
    token = _citizen(stack, "e2e-erin")
    admin = stack.token("e2e-ops", admin=True)
    # WHEN the robot sends malformed JSON, then an invalid payload, then a good deposit
    robot.publish_raw(b'{"event_id": "evt-broken", "citizen": ')
    invalid = robot.deposit({"event_id": "evt-invalid-e2e", "citizen": {"code": "1"}, "items": []})
    good = robot.deposit(_event({"code": _code(stack, token)}, pet=3))
    # THEN the invalid one is rejected, the good one credited
    assert (invalid["status"], invalid["reason"]) == ("rejected", "invalid_payload")
    assert good["status"] == "credited"
    assert _balance(stack, token) == 30

    # AND admins see both bad messages in quarantine, with their reasons
    def reasons() -> set[str]:
        _, body = stack.http("GET", "/v1/admin/quarantine?limit=200", token=admin)
        return {i["reason"] for i in body["items"] if i["device_id"] == "robot-001"}

    assert _eventually(lambda: {"malformed_json", "invalid_payload"} <= reasons())
    assert any(
        a == {"event_id": None, "status": "rejected", "reason": "invalid_payload"}
        for a in robot.ack_log
    )


def test_fifty_deposits_from_two_robots_at_once_leave_exact_balances(
    stack: Stack, robots: Any
) -> None:
    # GIVEN five citizens identified by phone
    phones = [f"010-5000-{n:04d}" for n in range(5)]
    tokens = [_citizen(stack, f"e2e-crowd-{n}", phone) for n, phone in enumerate(phones)]
    expected = [0] * 5
    plan: list[tuple[RobotClient, dict[str, Any], int]] = []
    for i in range(50):
        who = i % 5
        can, pet = i % 4, 1 + i % 3
        expected[who] += can * 15 + pet * 10
        plan.append((robots[i % 2], _event({"phone": phones[who]}, can=can, pet=pet), who))
    # WHEN both robots send 25 deposits each, concurrently
    acks: list[dict[str, Any]] = []
    lock = threading.Lock()

    def send(batch: list[tuple[RobotClient, dict[str, Any], int]]) -> None:
        for robot, event, _ in batch:
            ack = robot.deposit(event, timeout=30)
            with lock:
                acks.append(ack)

    threads = [threading.Thread(target=send, args=(plan[k::4],)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN every deposit is credited once and every balance is exact
    assert len(acks) == 50 and {a["status"] for a in acks} == {"credited"}
    assert [_balance(stack, t) for t in tokens] == expected


def test_a_failing_record_is_retried_alone(stack: Stack, robots: Any) -> None:
    robot, _ = robots
    # GIVEN two citizens, one of whose records is unreadable for now (a poisoned row)
    ok_token = _citizen(stack, "e2e-ok")
    bad_token = _citizen(stack, "e2e-poisoned")
    ok_code, bad_code = _code(stack, ok_token), _code(stack, bad_token)
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    key = {"citizen_id": {"S": "e2e-poisoned"}}
    dynamodb.update_item(
        TableName="gimhae-dev-citizens",
        Key=key,
        UpdateExpression="SET balance = :bad",
        ExpressionAttributeValues={":bad": {"S": "unreadable"}},
    )
    bad_event = _event({"code": bad_code}, can=1)
    # WHEN deposits for both arrive together
    robot.publish(robot.deposits_topic, bad_event)
    ok_ack = robot.deposit(_event({"code": ok_code}, can=2))
    # THEN the good one is credited at once; the poisoned one, handled before it (same
    # connection, same queue), is not acked and stays on the queue to be retried
    assert ok_ack["status"] == "credited"
    assert not [a for a in robot.ack_log if a.get("event_id") == bad_event["event_id"]]
    assert _deposits_in_queue(stack) >= 1
    # WHEN the row is repaired, the retried record succeeds on its own
    dynamodb.update_item(
        TableName="gimhae-dev-citizens",
        Key=key,
        UpdateExpression="SET balance = :zero",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )
    acked = _eventually(
        lambda: [a for a in robot.ack_log if a.get("event_id") == bad_event["event_id"]],
        timeout=20,
    )
    assert [a["status"] for a in acked] == ["credited"]
    # AND the good record was not processed again (no duplicate ack for it)
    ok_acks = [a for a in robot.ack_log if a.get("event_id") == ok_ack["event_id"]]
    assert [a["status"] for a in ok_acks] == ["credited"]
    assert _balance(stack, bad_token) == 15 and _balance(stack, ok_token) == 30


def test_the_ledger_stream_keeps_the_city_totals_admins_see(stack: Stack, robots: Any) -> None:
    admin = stack.token("e2e-ops", admin=True)

    def totals() -> dict[str, Any]:
        status, body = stack.http("GET", "/v1/admin/stats", token=admin)
        assert status == 200, body
        return dict(body)

    def settled() -> dict[str, Any] | None:
        first = totals()
        time.sleep(1.0)
        return first if totals() == first else None

    # GIVEN the totals once every earlier entry has been counted
    before = _eventually(settled, timeout=30)
    assert before is not None
    robot, _ = robots
    token = _citizen(stack, "e2e-tara")
    # WHEN a deposit is credited over MQTT
    ack = robot.deposit(_event({"code": _code(stack, token)}, can=2, pet=1))
    assert (ack["status"], ack["points"]) == ("credited", 40)
    # THEN the ledger's stream counts it, exactly once, in the totals admins see
    expected = (before["points_issued"] + 40, before["items_recycled"] + 3)
    after = _eventually(
        lambda: (lambda t: t if (t["points_issued"], t["items_recycled"]) == expected else None)(
            totals()
        )
    )
    assert after is not None, totals()
    assert after["ledger_entries"] == before["ledger_entries"] + 1
    assert after["points_held"] == (  # invariant 3, with the points forfeited at closes
        after["points_issued"]
        - after["points_paid"]
        - after["points_pending"]
        - after["points_forfeited"]
    )
