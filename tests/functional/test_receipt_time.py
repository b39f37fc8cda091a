"""Every "how old is this message" rule is judged against when IoT Core received the message
(the rule's `timestamp()`), not when a handler processed it (DESIGN §5): a backlog of days,
a retry or a redrive never turns an accepted message into a rejection. Through the real
queue handlers on moto, with the services' clocks moved to the late processing time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    published_acks,
    rule_message,
    sqs_record,
)
from tests.functional.test_fleet import fleet as fleet  # the alerts topic, shadows
from tests.functional.test_fleet import invoke, report, shelter, status, telemetry

SHELTER = "shelter-001"
ROBOT = "robot-001"


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture
def late(api: Api, fleet: Any) -> Iterator[dict[str, datetime]]:
    """Messages received now and processed later: the services' clocks are moved by the
    test (`process_at`), the receipt stamps stay at `received`."""
    from chalicelib import wiring

    received = datetime.now(UTC).replace(microsecond=0)
    moments = {"received": received, "processed": received}

    def clock() -> datetime:
        return moments["processed"]

    wiring.recycling()._clock = clock
    wiring.fleet()._clock = clock
    yield moments


def _citizen_with_code(api: Api, who: str = "citizen-1") -> str:
    body = {"display_name": who, "district": "naeoe-dong"}
    assert api.call("PUT", "/v1/me", as_user=who, body=body).status == 200
    return str(api.call("POST", "/v1/me/deposit-codes", as_user=who).body["code"])


def _deposit_record(payload: dict[str, Any], received: datetime | None, **envelope: Any) -> Any:
    message = rule_message(ROBOT, payload)
    if received is None:
        message.pop("received_at")
    else:
        message["received_at"] = _ms(received)
    message.update(envelope)
    return sqs_record(message, "m-late")


def _acks() -> list[dict[str, Any]]:
    return [ack for topic, ack in published_acks() if topic.endswith("/deposits/ack")]


def _quarantine(api: Api, source: str) -> list[dict[str, Any]]:
    answer = api.call("GET", f"/v1/admin/quarantine?source={source}", as_user="ops", admin=True)
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


# ---------------------------------------------------------------- deposits


def test_a_deposit_processed_days_after_its_receipt_is_still_credited(
    api: Api, late: dict[str, datetime]
) -> None:
    # GIVEN a deposit made and received by IoT Core now (a code from the app)
    code = _citizen_with_code(api)
    event = deposit("evt-backlog-01", code, can=2, occurred_at=late["received"])
    # WHEN a backlog (or retries and a redrive) delays its processing by 10 days
    late["processed"] = late["received"] + timedelta(days=10)
    result = invoke_deposits([_deposit_record(event, late["received"])])
    # THEN it is credited: it was on time when it arrived
    assert result == {"batchItemFailures": []}
    assert _acks()[-1] == {
        "event_id": "evt-backlog-01", "status": "credited", "points": 30, "balance": 30,
    }  # fmt: skip
    assert api.call("GET", "/v1/me", as_user="citizen-1").body["balance"] == 30


def test_a_deposit_received_past_its_window_is_still_rejected(
    api: Api, late: dict[str, datetime]
) -> None:
    # GIVEN a robot that resends a deposit 7 days and an hour after it happened
    api.call("PUT", "/v1/me", as_user="citizen-1",
             body={"display_name": "c", "district": "naeoe-dong"})  # fmt: skip
    occurred = late["received"] - timedelta(days=7, hours=1)
    event = deposit("evt-toolate-1", phone="010-5555-0101", can=1, occurred_at=occurred)
    # WHEN it is processed at once
    invoke_deposits([_deposit_record(event, late["received"])])
    # THEN it is rejected as out of range, judged at its receipt
    assert _acks()[-1] == {
        "event_id": "evt-toolate-1", "status": "rejected", "reason": "occurred_at_out_of_range",
    }  # fmt: skip


def test_a_deposit_stamped_ahead_of_its_receipt_is_rejected_even_when_processed_later(
    api: Api, late: dict[str, datetime]
) -> None:
    # GIVEN a deposit stamped 30 minutes after IoT Core received it (a robot's clock ahead)
    event = deposit(
        "evt-ahead-001", phone="010-5555-0102", can=1,
        occurred_at=late["received"] + timedelta(minutes=30),
    )  # fmt: skip
    # WHEN it is processed an hour later (when processing time would have let it through)
    late["processed"] = late["received"] + timedelta(hours=1)
    invoke_deposits([_deposit_record(event, late["received"])])
    # THEN it is still rejected
    assert _acks()[-1]["reason"] == "occurred_at_out_of_range"


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        (None, "missing"),
        ("1764000000000", "integer"),
        (True, "integer"),
        (-5, "not a plausible"),
        pytest.param(10**400, "not a plausible", id="400-digits"),
        ("future", "not a plausible"),
    ],
)
def test_an_envelope_without_a_plausible_receipt_time_is_quarantined_never_judged(
    api: Api, late: dict[str, datetime], stamp: Any, why: str
) -> None:
    # GIVEN a deposit whose envelope has no usable receipt time
    event = deposit("evt-nostamp-1", phone="010-5555-0103", can=1, occurred_at=late["received"])
    if stamp == "future":
        stamp = _ms(late["received"] + timedelta(hours=1))
    record = _deposit_record(event, None)
    body = json.loads(record["body"])
    if stamp is not None:
        body["received_at"] = stamp
    record["body"] = json.dumps(body)
    # WHEN it is handled
    result = invoke_deposits([record])
    # THEN the batch goes on, nothing is credited or rejected for good: it waits in quarantine
    assert result == {"batchItemFailures": []}
    (entry,) = _quarantine(api, "deposits")
    assert entry["reason"] == "invalid_envelope"
    assert "received_at" in entry["details"] and why in entry["details"]
    assert all(a.get("event_id") != "evt-nostamp-1" for a in _acks())


# ---------------------------------------------------------------- shelters and robots


def _report_received(device: str, channel: str, payload: dict[str, Any], at: datetime) -> Any:
    record = report(device, channel, payload)
    body = json.loads(record["body"])
    body["received_at"] = _ms(at)
    record["body"] = json.dumps(body)
    return record


def test_telemetry_processed_days_late_still_counts(api: Api, late: dict[str, datetime]) -> None:
    # GIVEN a reading IoT Core received on time
    received = late["received"]
    # WHEN the device-reports queue delivers it 8 days later
    late["processed"] = received + timedelta(days=8)
    reading = telemetry(received, pm10=55.0)
    record = _report_received(SHELTER, "shelter_telemetry", reading, received)
    assert invoke(record) == {"batchItemFailures": []}
    # THEN it is applied, not refused as too old
    assert shelter(api)["air"]["pm10"] == 55.0
    assert _quarantine(api, "fleet") == []


def test_robot_status_processed_days_late_still_counts(api: Api, late: dict[str, datetime]) -> None:
    received = late["received"]
    late["processed"] = received + timedelta(days=8)
    invoke(_report_received(ROBOT, "robot_status", status(received, 0.5, 0.95), received))
    assert api.call("GET", f"/v1/robots/{ROBOT}").body["accepting"] is False
    assert _quarantine(api, "fleet") == []


def test_telemetry_received_too_old_or_ahead_is_still_refused(
    api: Api, late: dict[str, datetime]
) -> None:
    received = late["received"]
    old = telemetry(received - timedelta(days=7, minutes=1))
    ahead = telemetry(received + timedelta(minutes=3))
    invoke(
        _report_received(SHELTER, "shelter_telemetry", old, received),
        _report_received(SHELTER, "shelter_telemetry", ahead, received),
    )
    assert sorted(e["reason"] for e in _quarantine(api, "fleet")) == ["ts_in_future", "ts_too_old"]


def test_a_last_will_takes_its_receipt_time_not_the_processing_time(
    api: Api, late: dict[str, datetime]
) -> None:
    # GIVEN a shelter heard at T
    received = late["received"]
    invoke(_report_received(SHELTER, "shelter_telemetry", telemetry(received), received))
    # WHEN its last will, received at T + 1 min, is processed an hour late
    late["processed"] = received + timedelta(hours=1)
    will = _report_received(SHELTER, "shelter_status", {"online": False},
                            received + timedelta(minutes=1))  # fmt: skip
    assert invoke(will) == {"batchItemFailures": []}
    # THEN it is applied (not refused), and a status sent at T + 2 min is still newer than it
    assert shelter(api)["status"] == "offline"
    back = {"ts": (received + timedelta(minutes=2)).isoformat(), "online": True}
    invoke(_report_received(SHELTER, "shelter_status", back, received + timedelta(minutes=2)))
    assert shelter(api)["last_seen"] is not None
    assert _quarantine(api, "fleet") == []


def test_a_fleet_envelope_without_a_receipt_time_is_quarantined(
    api: Api, late: dict[str, datetime]
) -> None:
    record = report(SHELTER, "shelter_telemetry", telemetry(late["received"]))
    body = json.loads(record["body"])
    del body["received_at"]
    record["body"] = json.dumps(body)
    assert invoke(record) == {"batchItemFailures": []}
    (entry,) = _quarantine(api, "fleet")
    assert entry["reason"] == "invalid_envelope"
