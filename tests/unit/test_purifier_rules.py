"""The purifier override's rules (chalicelib/domain/purifier.py): which mode is in force, when
the air rule's shadow update is held back, when an override has run out, and what a request
may say. No network."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.domain import purifier
from chalicelib.domain.fleet import DeviceState, Notice, Override

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SHELTER = DeviceState("shelter-001", "shelter", "Yeonji 1", "naeoe-dong", 35.2, 128.8)


def _held(mode: str = "off", minutes: int = 30) -> DeviceState:
    until = purifier.until(NOW, minutes)
    return replace(SHELTER, purifier_desired="high", override=Override("A1", mode, until, "ops"))  # type: ignore[arg-type]


def test_automatic_control_is_auto_until_the_air_rule_decides() -> None:
    assert purifier.in_force(SHELTER, NOW) == "auto"
    assert purifier.in_force(replace(SHELTER, purifier_desired="high"), NOW) == "high"
    assert purifier.automatic(replace(SHELTER, purifier_desired="junk")) == "auto"


def test_an_override_is_in_force_until_its_end_and_not_a_moment_after() -> None:
    state = _held("off", minutes=30)
    assert purifier.in_force(state, NOW) == "off"
    assert (
        purifier.in_force(state, NOW + timedelta(minutes=30) - timedelta(microseconds=1)) == "off"
    )
    end = NOW + timedelta(minutes=30)
    assert purifier.in_force(state, end) == "high"  # the automatic mode, at once
    assert not purifier.expired(state, end - timedelta(seconds=1))
    assert purifier.expired(state, end)
    assert not purifier.expired(SHELTER, end)
    assert purifier.override_seen(state) == "A1"
    assert purifier.override_seen(SHELTER) is None


def test_the_air_rules_shadow_update_is_held_back_only_while_an_override_holds() -> None:
    notice = Notice("id", "shelter-001", "air", "opened", NOW, "air bad", purifier="high")
    assert purifier.held_by_override(notice, _held(), NOW).purifier is None
    assert purifier.held_by_override(notice, _held(), NOW).alert_id == "id"  # the alert goes
    assert purifier.held_by_override(notice, SHELTER, NOW) == notice
    late = NOW + timedelta(minutes=31)
    assert purifier.held_by_override(notice, _held(), late) == notice


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "off", "minutes": 1},
        {"mode": "high", "minutes": 1440},
        {"mode": "auto", "minutes": 60},
    ],
)
def test_a_request_names_a_mode_and_whole_minutes(body: dict[str, object]) -> None:
    request = purifier.PurifierOverrideRequest.model_validate(body)
    assert (request.mode, request.minutes) == (body["mode"], body["minutes"])


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "off", "minutes": 0},
        {"mode": "off", "minutes": 1441},
        {"mode": "off", "minutes": "5"},
        {"mode": "off", "minutes": 5.5},
        {"mode": "off", "minutes": 5.0},
        {"mode": "off", "minutes": True},
        {"mode": "Off", "minutes": 5},
        {"mode": "OFF", "minutes": 5},
        {"mode": "off ", "minutes": 5},
        {"mode": "off", "minutes": 5, "until": "2099-01-01"},
    ],
)
def test_anything_else_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        purifier.PurifierOverrideRequest.model_validate(body)
