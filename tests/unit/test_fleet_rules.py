"""Devices' messages judged at the edge, presence ordering and alert episodes (DESIGN §3,
§5): plain functions, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.domain.device_numbers import MAX_MAGNITUDE, MIN_MAGNITUDE
from chalicelib.domain.fleet import (
    DeviceState,
    OpenAlert,
    PresenceEvent,
    Refused,
    StatusMessage,
    TelemetryMessage,
    episode_changes,
    judge_reading,
    judge_status,
    presence_order,
    robot_wanted,
    validation_reason,
)

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _telemetry(**fields: object) -> TelemetryMessage:
    return TelemetryMessage.model_validate({"ts": NOW.isoformat(), **fields})


def test_a_full_telemetry_message_is_believed() -> None:
    reading = judge_reading(
        _telemetry(pm10=42.0, pm25=18.5, temp_c=21.3, humidity=40.0, co2_ppm=650,
                   occupancy=3, chargers={"total": 4, "in_use": 1}),
        NOW,
    )  # fmt: skip
    assert (reading.pm10, reading.chargers_in_use, reading.grade) == (42.0, 1, "moderate")


@pytest.mark.parametrize(
    "fields",
    [
        {"pm10": True},
        {"pm10": "42"},
        {"pm10": float("nan")},
        {"pm10": float("inf")},
        {"occupancy": 2.5},
        {"chargers": {"total": 4}},
        {"chargers": {"total": 4, "in_use": 1, "extra": 1}},
    ],
)
def test_wrong_types_are_invalid_payloads(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _telemetry(**fields)


def test_ts_is_required_with_an_offset() -> None:
    with pytest.raises(ValidationError):
        TelemetryMessage.model_validate({"pm10": 1})
    with pytest.raises(ValidationError):
        TelemetryMessage.model_validate({"ts": "2026-11-25T10:00:00", "pm10": 1})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"pm10": -1}, "implausible_reading"),
        ({"humidity": 101}, "implausible_reading"),
        ({"chargers": {"total": 2, "in_use": 3}}, "implausible_reading"),
        ({"ts": (NOW + timedelta(minutes=3)).isoformat()}, "ts_in_future"),
        ({"ts": (NOW - timedelta(days=8)).isoformat()}, "ts_too_old"),
    ],
)
def test_impossible_messages_are_refused_with_a_reason(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(Refused) as refused:
        judge_reading(_telemetry(**fields), NOW)
    assert refused.value.reason == reason


def test_a_clock_a_little_ahead_is_tolerated() -> None:
    judge_reading(_telemetry(ts=(NOW + timedelta(seconds=90)).isoformat(), pm10=3), NOW)


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(0, 1))
def test_bin_levels_outside_zero_to_one_are_refused(level: float, other: float) -> None:
    document = {"ts": NOW.isoformat(), "online": True, "bins": {"can": level, "pet": other}}
    try:
        message = StatusMessage.model_validate(document)
    except ValidationError as e:  # a magnitude no sensor reports: refused as implausible
        assert validation_reason(e) == "implausible_reading"
        odd = [v for v in (level, other) if 0 < abs(v) < MIN_MAGNITUDE or abs(v) > MAX_MAGNITUDE]
        assert odd
        return
    if 0 <= level <= 1:
        status = judge_status(message, "robot", NOW)
        assert status.accepting == (level < 0.9 and other < 0.9)
    else:
        with pytest.raises(Refused):
            judge_status(message, "robot", NOW)


def test_a_last_will_needs_no_ts_and_takes_the_receipt_time() -> None:
    status = judge_status(StatusMessage.model_validate({"online": False}), "shelter", NOW)
    assert (status.online, status.is_will, status.ts) == (False, True, NOW)
    with pytest.raises(Refused):
        judge_status(StatusMessage.model_validate({"online": True}), "shelter", NOW)


def test_a_shelter_has_no_bins() -> None:
    message = StatusMessage.model_validate({"ts": NOW.isoformat(), "bins": {"can": 0.1}})
    with pytest.raises(Refused):
        judge_status(message, "shelter", NOW)


def test_a_fault_code_is_short_and_plain() -> None:
    with pytest.raises(ValidationError):
        StatusMessage.model_validate({"ts": NOW.isoformat(), "fault": "x" * 65})
    with pytest.raises(ValidationError):
        StatusMessage.model_validate({"ts": NOW.isoformat(), "fault": "<script>"})


# ---------------------------------------------------------------- presence


def _event(kind: str, version: int) -> PresenceEvent:
    return PresenceEvent.model_validate(
        {"eventType": kind, "timestamp": 1, "versionNumber": version}
    )


@given(
    st.lists(
        st.tuples(st.sampled_from(["connected", "disconnected"]), st.integers(0, 5)), max_size=30
    )
)
def test_presence_ends_as_the_newest_event_says_whatever_the_order(
    events: list[tuple[str, int]],
) -> None:
    """Lifecycle events may repeat and come out of order; applying only those whose order
    is higher than the stored one ends where the newest event says."""
    stored: int | None = None
    online = False
    for kind, version in events:
        order = presence_order(_event(kind, version))
        if stored is None or order > stored:
            stored, online = order, kind == "connected"
    if events:
        newest = max(events, key=lambda e: presence_order(_event(*e)))
        assert online == (newest[0] == "connected")


def test_a_disconnect_comes_after_the_connect_of_its_connection() -> None:
    assert presence_order(_event("disconnected", 4)) > presence_order(_event("connected", 4))
    assert presence_order(_event("connected", 5)) > presence_order(_event("disconnected", 4))


# ---------------------------------------------------------------- episodes


def test_an_episode_opens_once_and_closes_once() -> None:
    opened = episode_changes("robot-001", {}, {"bin_full": "bin full: pet"}, NOW)
    assert list(opened.opened) == ["bin_full"]
    assert [n.event for n in opened.notices] == ["opened"]
    alerts = {"bin_full": OpenAlert("bin_full", NOW, "bin full: pet")}
    assert not episode_changes("robot-001", alerts, {"bin_full": "bin full: pet"}, NOW)
    closed = episode_changes("robot-001", alerts, {"bin_full": None}, NOW + timedelta(hours=1))
    assert closed.closed == ("bin_full",)
    assert closed.notices[0].alert_id == opened.notices[0].alert_id.replace("opened", "cleared")


def test_a_robot_status_wants_its_bins_and_fault() -> None:
    message = StatusMessage.model_validate(
        {"ts": NOW.isoformat(), "bins": {"can": 0.95, "pet": 0.2}, "fault": "E42"}
    )
    wanted = robot_wanted(judge_status(message, "robot", NOW))
    assert wanted == {"bin_full": "bin full: can", "fault": "fault E42"}
    will = judge_status(StatusMessage.model_validate({"online": False}), "robot", NOW)
    assert robot_wanted(will) == {}  # a will says nothing of bins or faults


def test_a_device_silent_for_five_minutes_shows_offline() -> None:
    state = DeviceState("shelter-001", "shelter", "n", "naeoe-dong", 0, 0, online=True,
                        last_seen=NOW)  # fmt: skip
    assert state.status(NOW + timedelta(minutes=4, seconds=59)) == "online"
    assert state.status(NOW + timedelta(minutes=5)) == "offline"
