"""A phone number proven end to end: the SMS code read from the local outbox with
`python -m infra.local outbox`, then a robot's deposit by that number over MQTT credits the
citizen who proved it, and the number's former holder is no longer credited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from iot.device import new_event_id
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")
NUMBER = "010-6161-7272"


def _citizen(stack: Stack, who: str) -> str:
    token = stack.token(who)
    body = {"display_name": who, "district": "naeoe-dong"}
    status, answer = stack.http("PUT", "/v1/me", token=token, body=body)
    assert status == 200, answer
    return token


def _by_phone(can: int) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "citizen": {"phone": NUMBER},
        "items": [{"material": "can", "accepted": can, "rejected": 0}],
        "occurred_at": datetime.now(UTC).astimezone(SEOUL).isoformat(),
    }


def test_a_phone_proven_by_the_outbox_code_is_credited_over_mqtt(stack: Stack) -> None:
    robot = stack.robot("robot-001")
    try:
        # GIVEN Seo links the number with the code the outbox shows
        seo = _citizen(stack, "e2e-phone-seo")
        assert stack.link_phone(seo, NUMBER)["phone_linked"] is True
        (sms,) = [m for m in stack.outbox() if m["to"].endswith("7272")]
        assert sms["channel"] == "sms" and sms["to"] == "+********7272"
        assert "61617272" not in (stack.state_dir / "outbox.jsonl").read_text(encoding="utf-8")
        # WHEN a robot deposits by that number
        ack = robot.deposit(_by_phone(can=2))
        # THEN Seo is credited
        assert (ack["status"], ack["points"], ack["balance"]) == ("credited", 30, 30)
        # AND once Park proves the same number, the robot credits Park and Seo keeps hers
        park = _citizen(stack, "e2e-phone-park")
        stack.link_phone(park, NUMBER)
        ack = robot.deposit(_by_phone(can=1))
        assert (ack["status"], ack["balance"]) == ("credited", 15)
        status, me = stack.http("GET", "/v1/me", token=seo)
        assert status == 200 and (me["balance"], me["phone_linked"]) == (30, False)
    finally:
        robot.disconnect()
