"""The fleet service on in-memory stores (tests/fakes/): ordering under replay and
reordering, one alert per episode over a simulated hour, the outbox after a crash, the
health job. No AWS, no network."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.events import intake
from chalicelib.services.fleet import FleetService
from tests.fakes import MemoryFleet, MemoryQuarantine, RecordingAlerts

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
REGISTRY = {
    "shelter-001": {"type": "shelter", "name": "북측", "district": "naeoe-dong",
                    "lat": 35.24, "lon": 128.87},
    "robot-001": {"type": "robot", "name": "정문", "district": "naeoe-dong",
                  "lat": 35.24, "lon": 128.87},
}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _service() -> tuple[FleetService, MemoryFleet, RecordingAlerts, MemoryQuarantine, Clock]:
    clock = Clock()
    store = MemoryFleet(REGISTRY)
    alerts = RecordingAlerts()
    quarantine = MemoryQuarantine(clock)
    return FleetService(store, alerts, alerts, quarantine, clock), store, alerts, quarantine, clock


def _telemetry(at: datetime, pm10: float = 20.0, pm25: float = 10.0) -> bytes:
    return json.dumps({"ts": at.isoformat(), "pm10": pm10, "pm25": pm25}).encode()


@settings(max_examples=60)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=25))
def test_any_order_with_repeats_ends_at_the_newest_reading(order: list[int]) -> None:
    service, store, _, _, clock = _service()
    clock.now = T0 + timedelta(minutes=10)
    for i in order:
        service.receive(
            intake.report_payload(
                "shelter_telemetry", "shelter-001", _telemetry(T0 + timedelta(minutes=i), pm10=i)
            )
        )
    state = store.device("shelter-001")
    assert state.pm10 == max(order)
    assert state.telemetry_ts == T0 + timedelta(minutes=max(order))
    hours = store.air_hours("shelter-001", T0, clock.now)
    assert sum(h.samples for h in hours) == len(set(order))


def test_a_flapping_sensor_for_a_simulated_hour_sends_one_alert() -> None:
    service, _, alerts, _, clock = _service()
    rng = random.Random(3)
    for _ in range(180):  # a reading every 20 s, around the bad threshold of PM2.5
        clock.now += timedelta(seconds=20)
        pm25 = rng.choice([20.0, 35.0, 36.0, 60.0])
        service.receive(
            intake.report_payload(
                "shelter_telemetry", "shelter-001", _telemetry(clock.now, pm25=pm25)
            )
        )
    assert [(a["kind"], a["event"]) for a in alerts.published] == [("air", "opened")]
    assert alerts.purifiers == [("shelter-001", "high")]


def test_a_replayed_batch_sends_nothing_again() -> None:
    service, _, alerts, _, clock = _service()
    batch = [_telemetry(clock.now + timedelta(minutes=i), pm10=200) for i in range(3)]
    clock.now += timedelta(minutes=3)
    for _ in range(3):
        for message in batch:
            service.receive(intake.report_payload("shelter_telemetry", "shelter-001", message))
    assert len(alerts.published) == 1


def test_a_crash_before_publishing_is_recovered_once_by_the_health_job() -> None:
    service, store, alerts, _, clock = _service()
    alerts.down = True
    with pytest.raises(ConnectionError):  # the record fails: SQS will retry it (stale then)
        service.receive(
            intake.report_payload(
                "shelter_telemetry", "shelter-001", _telemetry(clock.now, pm10=200)
            )
        )
    alerts.down = False
    assert [p.key.endswith("#purifier") for p in store.device("shelter-001").outbox] == [
        False, True]  # fmt: skip
    clock.now += timedelta(seconds=61)
    assert service.check_health().redelivered == 2
    assert service.check_health().redelivered == 0
    assert [a["event"] for a in alerts.published] == ["opened"]
    assert alerts.purifiers == [("shelter-001", "high")]


def test_silence_marks_offline_once_and_a_message_clears_it() -> None:
    service, store, alerts, _, clock = _service()
    service.receive(
        intake.report_payload("shelter_telemetry", "shelter-001", _telemetry(clock.now))
    )
    clock.now += timedelta(minutes=5)
    assert service.check_health().marked_offline == ["shelter-001"]
    assert service.check_health().marked_offline == []
    service.receive(
        intake.report_payload("shelter_telemetry", "shelter-001", _telemetry(clock.now))
    )
    assert [(a["kind"], a["event"]) for a in alerts.published] == [
        ("offline", "opened"), ("offline", "cleared")]  # fmt: skip
    assert store.device("shelter-001").online is True


def test_refused_messages_are_quarantined_with_reasons_and_counted() -> None:
    service, store, _, quarantine, clock = _service()
    service.receive(
        intake.report_payload("shelter_telemetry", "shelter-001", _telemetry(clock.now))
    )
    outcomes = [
        service.receive(intake.report_payload("shelter_telemetry", "shelter-001", payload))
        for payload in (
            b"\xff\xfe not json",
            b"[1, 2]",
            b"[" * 100_000,
            json.dumps({"ts": clock.now.isoformat(), "humidity": 140}).encode(),
            json.dumps({"ts": (clock.now + timedelta(hours=1)).isoformat()}).encode(),
            b"{" + b" " * (128 * 1024) + b"}",
        )
    ]
    assert [o.reason for o in outcomes] == [
        "malformed_json", "invalid_payload", "malformed_json", "implausible_reading",
        "ts_in_future", "payload_too_large",
    ]  # fmt: skip
    assert len(quarantine.messages) == 6
    assert store.device("shelter-001").quarantined == 6
    other = service.receive(
        intake.report_payload("robot_status", "shelter-001", b'{"ts": "2026-11-25T10:00:00+09:00"}')
    )
    assert other.reason == "unknown_device"


def test_robot_bins_and_deposits_while_full() -> None:
    service, store, alerts, _, clock = _service()

    def status(can: float, **more: Any) -> bytes:
        clock.now += timedelta(seconds=30)
        return json.dumps(
            {"ts": clock.now.isoformat(), "bins": {"can": can, "pet": 0.1}, **more}
        ).encode()

    assert service.deposit_taken("robot-001") is False  # no state yet
    service.receive(intake.report_payload("robot_status", "robot-001", status(0.92)))
    service.receive(intake.report_payload("robot_status", "robot-001", status(0.97)))
    assert store.device("robot-001").accepting is False
    assert service.deposit_taken("robot-001") is True
    service.receive(intake.report_payload("robot_status", "robot-001", status(0.0)))
    assert service.deposit_taken("robot-001") is False
    assert [(a["kind"], a["event"]) for a in alerts.published] == [
        ("bin_full", "opened"), ("bin_full", "cleared")]  # fmt: skip
    assert store.device("robot-001").deposits_not_accepting == 1
