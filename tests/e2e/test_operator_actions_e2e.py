"""An operator's actions on refused and parked messages, end to end on the local stack: a
robot's deposit refused into quarantine (its robot unregistered), the robot registered
again, the entry reprocessed and credited; a dead-lettered deposit redriven through SQS's
message move (emulated by the stack) and credited by the real handler."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib import queues
from iot.device import new_event_id
from tests.e2e.conftest import Stack, until
from tests.e2e.test_fleet_e2e import _aws

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
PHONE = "010-7171-8282"


def _deposit(pet: int) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "citizen": {"phone": PHONE},
        "items": [{"material": "pet", "accepted": pet, "rejected": 0}],
        "occurred_at": datetime.now(UTC).astimezone(SEOUL).isoformat(),
    }


def _in_queue(sqs: Any, queue_url: str) -> int:
    """Messages still in the queue, waiting or being handled (deleted once handled)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    return sum(int(attributes["Attributes"][name]) for name in names)


def _balance(stack: Stack, token: str) -> int:
    status, body = stack.http("GET", "/v1/me", token=token)
    assert status == 200, body
    return int(body["balance"])


@pytest.fixture(scope="module")
def citizen(stack: Stack) -> str:
    token = stack.token("e2e-reprocessed")
    status, body = stack.http(
        "PUT", "/v1/me", token=token, body={"display_name": "재처리", "district": "naeoe-dong"}
    )
    assert status == 200, body
    stack.link_phone(token, PHONE)
    return token


def test_a_refused_deposit_is_reprocessed_once_its_robot_is_registered(
    stack: Stack, citizen: str
) -> None:
    operator = stack.token("e2e-operator", roles=("operator",))
    dynamodb = _aws(stack, "dynamodb")
    key = {"device_id": {"S": "robot-002"}}
    registered = dynamodb.get_item(TableName="gimhae-dev-devices", Key=key)["Item"]
    robot = stack.robot("robot-002")
    sqs = _aws(stack, "sqs")
    deposits = sqs.get_queue_url(QueueName=queues.DEPOSITS.name)["QueueUrl"]
    try:
        # GIVEN robot-002 missing from the registry: its deposit is refused, quarantined,
        # and settled (gone from its queue) before the robot is registered again. Sent once:
        # a resend handled after that (the robot's, while its ack is slow) is credited by
        # itself and leaves the reprocess a `duplicate` (functional tests cover that path).
        dynamodb.delete_item(TableName="gimhae-dev-devices", Key=key)
        event = _deposit(pet=3)
        ack = robot.deposit(event, timeout=30, resend_every=30)
        assert ack["status"] == "rejected" and ack["reason"] == "unknown_device"
        until(lambda: _in_queue(sqs, deposits), lambda count: count == 0)

        def entries() -> list[dict[str, Any]]:
            status, body = stack.http(
                "GET", "/v1/admin/quarantine?source=deposits&limit=200", token=operator
            )
            assert status == 200, body
            return [e for e in body["items"] if e["event_id"] == event["event_id"]]

        entry = until(entries, lambda found: len(found) >= 1)[0]
        assert entry["status"] == "open" and entry["reprocessable"] is True
        assert "7171" not in json.dumps(entry)  # the admin view is redacted
        # WHEN the robot is registered again and an operator reprocesses the entry
    finally:
        dynamodb.put_item(TableName="gimhae-dev-devices", Item=registered)
        robot.disconnect()
    path = f"/v1/admin/quarantine/{entry['entry_id']}/reprocess"
    support = stack.token("e2e-support", roles=("support",))
    assert stack.http("POST", path, token=support)[0] == 403
    with ThreadPoolExecutor(3) as pool:  # three operators at once
        answers = list(pool.map(lambda _: stack.http("POST", path, token=operator), range(3)))
    # THEN it is credited once, and the entry closed as reprocessed once
    assert sorted(status for status, _ in answers) == [200, 409, 409], answers
    done = next(body for status, body in answers if status == 200)
    assert done["status"] == "reprocessed"
    assert done["outcome"]["result"] == "credited" and done["outcome"]["points"] == 30
    status, again = stack.http("POST", path, token=operator)
    assert status == 409 and again["error"]["details"] == [{"status": "reprocessed"}]
    assert _balance(stack, citizen) == 30
    assert len(entries()) == 1 and entries()[0]["status"] == "reprocessed"
    # AND the action log holds the reprocess
    admin = stack.token("e2e-admin", roles=("admin",))
    target = f"quarantine:deposits/{entry['quarantine_id']}"
    status, log = stack.http("GET", f"/v1/admin/actions?target={target}", token=admin)
    assert status == 200 and [a["action"] for a in log["actions"]] == ["quarantine.reprocess"]


def test_a_dead_lettered_deposit_is_redriven_and_credited(stack: Stack, citizen: str) -> None:
    # GIVEN a deposit parked on the deposits DLQ (as after five failed receives)
    operator = stack.token("e2e-operator", roles=("operator",))
    sqs = _aws(stack, "sqs")
    dlq = sqs.get_queue_url(QueueName=queues.DEPOSITS.dlq_name)["QueueUrl"]
    payload = json.dumps(_deposit(pet=2)).encode()
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "device_id": "robot-001",
        "client_id": "robot-001",
        "received_at": int(datetime.now(UTC).timestamp() * 1000),
    }
    before = _balance(stack, citizen)
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(envelope))

    def parked() -> list[dict[str, Any]]:
        status, body = stack.http("GET", "/v1/admin/dead-letters", token=operator)
        assert status == 200, body
        return [q for q in body["queues"] if q["queue"] == queues.DEPOSITS.dlq_name]

    assert parked()[0]["messages"] == 1
    # WHEN an operator redrives it
    status, moved = stack.http(
        "POST", f"/v1/admin/dead-letters/{queues.DEPOSITS.dlq_name}/redrive", token=operator
    )
    assert status == 202, moved
    assert moved == {"queue": queues.DEPOSITS.dlq_name, "moved": 1}
    # THEN the deposits handler takes it from its queue and credits it
    until(lambda: _balance(stack, citizen), lambda b: b == before + 20)
    assert parked()[0]["messages"] == 0
