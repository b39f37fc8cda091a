"""Alert rules (chalicelib.domain.alerts, the air hysteresis in chalicelib.domain.air): ids,
severities, escalation within an episode, the texts staff may write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import alerts
from chalicelib.domain.air import AirAlert, AirGrade, step
from chalicelib.domain.phones import redact_phones
from chalicelib.errors import Conflict, Unprocessable

NOW = datetime(2026, 12, 7, 1, 1, 23, 456789, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2100, 1, 1)))
def test_an_alert_id_is_a_path_value_and_never_reads_as_a_phone_number(moment: datetime) -> None:
    alert_id = alerts.alert_id("robot-010", "bin_full", moment.replace(tzinfo=UTC))
    assert alerts.ALERT_ID.fullmatch(alert_id)
    assert redact_phones(alert_id) == alert_id  # logs and the outbox keep it whole


def test_the_same_episode_has_the_same_id() -> None:
    assert alerts.alert_id("shelter-001", "air", NOW) == "shelter-001.air.20261207T010123Z456789"
    later = NOW + timedelta(microseconds=1)
    assert alerts.alert_id("shelter-001", "air", NOW) != alerts.alert_id(
        "shelter-001", "air", later
    )


def test_air_escalates_once_within_an_episode_and_never_back_down() -> None:
    opened = step(AirAlert(), AirGrade.BAD, NOW)
    assert opened.event == "opened"
    worse = step(opened.alert, AirGrade.VERY_BAD, NOW + timedelta(minutes=1))
    assert (worse.event, worse.alert.worst) == ("escalated", AirGrade.VERY_BAD)
    again = step(worse.alert, AirGrade.VERY_BAD, NOW + timedelta(minutes=2))
    assert again.event is None
    lower = step(again.alert, AirGrade.BAD, NOW + timedelta(minutes=3))
    assert (lower.event, lower.alert.worst) == (None, AirGrade.VERY_BAD)
    assert alerts.air_severity("bad") == "major"
    assert alerts.air_severity("very_bad") == "critical"


def test_the_clear_wait_is_configurable() -> None:
    alert = step(AirAlert(), AirGrade.BAD, NOW).alert
    calm = step(alert, AirGrade.GOOD, NOW + timedelta(seconds=1), timedelta(seconds=3)).alert
    assert step(calm, AirGrade.GOOD, NOW + timedelta(seconds=3), timedelta(seconds=3)).event is None
    cleared = step(calm, AirGrade.GOOD, NOW + timedelta(seconds=4), timedelta(seconds=3))
    assert cleared.event == "cleared"


@pytest.mark.parametrize(
    ("value", "code"),
    [("", "validation_failed"), (" \n\t ", "validation_failed"), ("x" * 501, "validation_failed"),
     ("a\x00b", "invalid_characters"), ("a\u202eb", "invalid_characters"),
     ("a\u200bb", "invalid_characters"), ("a\ue000b", "invalid_characters"),
     ("a\u2029b", "invalid_characters"), ("a\x85b", "invalid_characters")],
)  # fmt: skip
def test_odd_texts_are_refused(value: str, code: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        alerts.text(value, "text")
    assert refused.value.code == code


def test_a_text_is_trimmed_and_keeps_its_lines() -> None:
    assert alerts.text("  필터 교체\n내일  ", "text") == "필터 교체\n내일"
    assert alerts.text("x" * 500, "text") == "x" * 500
    assert alerts.optional_text("   ", "note") is None
    assert alerts.optional_text(None, "note") is None


def _alert(kind: str, status: str = "active") -> alerts.Alert:
    return alerts.raised(
        device_id="robot-001", device_type="robot", district="naeoe-dong", kind=kind,
        severity="major", since=NOW, detail="d", now=NOW,
    ) if status == "active" else alerts.Alert(
        "robot-001.fault.20261207T010123Z456789", "robot-001", "robot", "naeoe-dong", kind,
        "major", "cleared", NOW, NOW, "d",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("air", "active", "clears_itself"), ("offline", "active", "clears_itself"),
     ("fault", "cleared", "already_cleared"), ("bin_full", "cleared", "already_cleared")],
)  # fmt: skip
def test_only_a_fault_or_a_full_bin_is_cleared_by_hand(kind: str, status: str, code: str) -> None:
    with pytest.raises(Conflict) as refused:
        alerts.clearable_by_hand(_alert(kind, status))
    assert refused.value.code == code
    alerts.clearable_by_hand(_alert("fault"))
    alerts.clearable_by_hand(_alert("bin_full"))
