"""A backlog never turns an accepted deposit into a rejection, end to end on the local stack:
a deposit IoT Core received inside its 7-day window, but processed 8 days after it happened
(it sat in the deposits queue), is credited and acked to the robot over MQTT; one that IoT
Core received past the window is rejected. The messages are the robot_deposits rule's own
envelopes (its `timestamp()` of back then), put on the real queue, processed by the real
event source and handler."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import queues
from iot.device import new_event_id
from tests.e2e.conftest import Stack, eventually

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
ROBOT = "robot-002"


def _sqs(stack: Stack) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _queued(stack: Stack, occurred: datetime, received: datetime, phone: str) -> str:
    """Put on the deposits queue what the rule delivered when IoT Core received the robot's
    publish at `received`; answer the event id."""
    event_id = new_event_id()
    payload = {
        "event_id": event_id,
        "citizen": {"phone": phone},
        "items": [{"material": "can", "accepted": 2, "rejected": 0}],
        "occurred_at": occurred.astimezone(SEOUL).isoformat(),
    }
    envelope = {
        "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        "device_id": ROBOT,
        "client_id": ROBOT,
        "received_at": int(received.timestamp() * 1000),
    }
    sqs = _sqs(stack)
    url = sqs.get_queue_url(QueueName=queues.DEPOSITS.name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(envelope))
    return event_id


def test_a_deposit_processed_past_its_window_is_credited_if_received_inside_it(
    stack: Stack,
) -> None:
    # GIVEN a citizen known by phone, and the robot listening for its acks
    token = stack.token("e2e-backlog")
    body = {"display_name": "e2e-backlog", "district": "naeoe-dong"}
    status, answer = stack.http("PUT", "/v1/me", token=token, body=body)
    assert status == 200, answer
    phone = "010-5999-0001"
    stack.link_phone(token, phone)
    robot = stack.robot(ROBOT)
    got: list[dict[str, Any]] = []
    robot.subscribe(robot.ack_topic, lambda topic, payload: got.append(json.loads(payload)))
    try:
        now = datetime.now(UTC)
        # WHEN a deposit made 8 days ago, received by IoT Core 6 days ago (on time), and one
        # received 8 days after it was made (late already then), are processed now
        on_time = _queued(stack, now - timedelta(days=8), now - timedelta(days=6), phone)
        late = _queued(stack, now - timedelta(days=8, hours=1), now - timedelta(hours=1), phone)

        def acks() -> dict[str, dict[str, Any]]:
            # The first ack of each: under load a message can outlive the queue's 2-second
            # visibility timeout and be delivered again, and its repeat is acked `duplicate`.
            found: dict[str, dict[str, Any]] = {}
            for ack in list(got):
                found.setdefault(ack.get("event_id"), ack)
            return found if on_time in found and late in found else {}

        answered = eventually(acks, timeout=20)
        # THEN the one received on time is credited, the other rejected as out of range
        assert answered[on_time]["status"] == "credited"
        assert answered[on_time]["points"] == 30
        assert (answered[late]["status"], answered[late]["reason"]) == (
            "rejected",
            "occurred_at_out_of_range",
        )
        status, me = stack.http("GET", "/v1/me", token=token)
        assert me["balance"] == 30
    finally:
        robot.disconnect()
