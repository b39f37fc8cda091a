"""An operator's day end to end on the local stack, over real MQTT and HTTP (issue 22): bad
air raises an alert (major), worse air escalates it (critical), an operator acknowledges it
with a note and holds the shelter's purifier on high by hand, the air recovers and the system
clears the alert while the override still holds, and releasing it gives the purifier back to
automatic control. Each step is in the alert's timeline, the staff steps in the action log,
and every alert message in the local outbox."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from iot.device import ShelterClient, stack_connection
from tests.conftest import ROOT
from tests.e2e.conftest import AIR_CLEAR_SECONDS, Stack, until
from tests.e2e.test_fleet_e2e import _aws

pytestmark = pytest.mark.e2e

SHELTER = "shelter-001"


def _abs(path: str) -> str:
    return path if os.path.isabs(path) else str(ROOT / path)


def _ok(stack: Stack, method: str, path: str, token: str, body: Any = None) -> Any:
    status, answer = stack.http(method, path, token=token, body=body)
    assert status == 200, (path, answer)
    return answer


def _air_alerts(stack: Stack, token: str, status: str) -> list[dict[str, Any]]:
    body = _ok(stack, "GET", f"/v1/admin/alerts?status={status}&kind=air", token)
    return [a for a in body["alerts"] if a["device_id"] == SHELTER]


def _desired(stack: Stack) -> Any:
    """The purifier mode the shelter's shadow asks for (None: no shadow yet)."""
    data = _aws(stack, "iot-data")
    try:
        got = data.get_thing_shadow(thingName=SHELTER)
    except data.exceptions.ResourceNotFoundException:
        return None
    return json.loads(got["payload"].read())["state"].get("desired", {}).get("purifier")


def test_an_operators_day_from_bad_air_to_a_cleared_alert(stack: Stack) -> None:
    operator = stack.token("ops-e2e-alerts", roles=("operator",))
    admin = stack.token("admin-e2e-alerts", admin=True)
    shelter = ShelterClient(SHELTER, **stack_connection(stack.document, SHELTER, _abs))
    shelter.connect()
    purifier = f"/v1/admin/shelters/{SHELTER}/purifier"

    def reading(pm10: float) -> None:
        time.sleep(1.1)  # telemetry is stamped to the second: each must be newer
        shelter.telemetry({"pm10": pm10, "pm25": 10.0})

    try:
        # GIVEN calm air (an episode another test left open clears first)
        until(
            lambda: reading(20.0) or _air_alerts(stack, operator, "active"),
            lambda active: active == [],
            timeout=30,
        )
        # WHEN the shelter reports bad air over MQTT
        reading(120.0)
        # THEN an operator sees one active air alert, major
        (alert,) = until(
            lambda: _air_alerts(stack, operator, "active"), lambda found: len(found) == 1
        )
        assert (alert["severity"], alert["acknowledged"]) == ("major", False)
        alert_id = alert["alert_id"]
        devices = _ok(stack, "GET", "/v1/admin/devices", operator)["devices"]
        shown = next(d for d in devices if d["device_id"] == SHELTER)["open_alerts"]
        assert [(a["kind"], a["alert_id"]) for a in shown] == [("air", alert_id)]
        # WHEN the air turns very bad: the same alert, escalated to critical
        reading(200.0)
        escalated = until(
            lambda: _ok(stack, "GET", f"/v1/admin/alerts/{alert_id}", operator),
            lambda found: found["severity"] == "critical",
        )
        assert [e["event"] for e in escalated["timeline"]] == ["raised", "escalated"]
        # WHEN the operator acknowledges it with a note
        note = "쉼터 환기 확인 중 (checking ventilation)"
        acked = _ok(
            stack, "POST", f"/v1/admin/alerts/{alert_id}/acknowledge", operator, {"note": note}
        )
        assert (acked["acknowledged"], acked["acknowledged_by"]) == (True, "ops-e2e-alerts")
        # AND holds the purifier on high for the next hour, whatever the air does
        held = _ok(stack, "PUT", purifier, operator, {"mode": "high", "minutes": 60})
        assert (held["override"]["mode"], held["override"]["by"]) == ("high", "ops-e2e-alerts")
        until(lambda: _desired(stack), lambda mode: mode == "high")
        # AND the air recovers for longer than the stack's hysteresis
        deadline = time.monotonic() + 30 + AIR_CLEAR_SECONDS
        while time.monotonic() < deadline:
            reading(30.0)
            current = _ok(stack, "GET", f"/v1/admin/alerts/{alert_id}", operator)
            if current["status"] == "cleared":
                break
        # THEN the system cleared it, and the timeline tells each step
        assert current["status"] == "cleared", current
        assert [(e["event"], e["by"]) for e in current["timeline"]] == [
            ("raised", None),
            ("escalated", None),
            ("acknowledged", "ops-e2e-alerts"),
            ("cleared", None),
        ]
        assert current["timeline"][2]["note"] == note
        assert _air_alerts(stack, operator, "active") == []
        # AND the override still holds the purifier high (automatic control would say auto)
        view = _ok(stack, "GET", f"/v1/admin/shelters/{SHELTER}", operator)
        assert view["override"]["mode"] == "high" and _desired(stack) == "high"
        # WHEN the operator releases it, automatic control takes the purifier back
        released = _ok(stack, "DELETE", purifier, operator)
        assert released["override"] is None
        until(lambda: _desired(stack), lambda mode: mode == "auto")
        steps = _ok(stack, "GET", f"/v1/admin/actions?target=shelter:{SHELTER}", admin)
        assert [(a["action"], a["actor"]) for a in steps["actions"][:2]] == [
            ("purifier.release", "ops-e2e-alerts"),
            ("purifier.override", "ops-e2e-alerts"),
        ]
        # AND the action log holds the operator's step, the system's steps are not staff's
        logged = _ok(stack, "GET", f"/v1/admin/actions?target=alert:{alert_id}", admin)
        assert [(a["action"], a["actor"], a["detail"].get("note")) for a in logged["actions"]] == [
            ("alert.acknowledge", "ops-e2e-alerts", note)
        ]
        # AND every alert message reached the local outbox, carrying the alert's id
        messages = until(
            lambda: [
                json.loads(m["text"])
                for m in stack.outbox()
                if m["channel"] == "alert" and json.loads(m["text"]).get("alert_id") == alert_id
            ],
            lambda found: len(found) == 3,
        )
        assert [(m["event"], m["severity"]) for m in messages] == [
            ("opened", "major"),
            ("escalated", "critical"),
            ("cleared", "critical"),
        ]
    finally:
        shelter.disconnect()
