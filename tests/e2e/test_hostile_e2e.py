"""Hostile input through the whole local stack, over real MQTT and HTTP: each message is
answered or quarantined (none is credited wrongly or lost in the rules engine), a stolen
client id kicks nobody, and the gateway answers its own refusals in the JSON shape."""

from __future__ import annotations

import functools
import http.client
import json
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from iot.device import RobotClient, new_event_id, stack_connection
from tests.e2e.conftest import Stack, _abs, eventually

pytestmark = pytest.mark.e2e
SEOUL = ZoneInfo("Asia/Seoul")


_eventually = functools.partial(eventually, timeout=15.0)


def _citizen(stack: Stack, who: str) -> str:
    token = stack.token(who)
    status, answer = stack.http(
        "PUT", "/v1/me", token=token, body={"display_name": who, "district": "naeoe-dong"}
    )
    assert status == 200, answer
    return token


def _code(stack: Stack, token: str) -> str:
    status, body = stack.http("POST", "/v1/me/deposit-codes", token=token)
    assert status == 201, body
    return str(body["code"])


def _event(code: str, cans: Any = 1, occurred_at: Any = None) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "citizen": {"code": code},
        "items": [{"material": "can", "accepted": cans, "rejected": 0}],
        "occurred_at": occurred_at or datetime.now(UTC).astimezone(SEOUL).isoformat(),
    }


def _balance(stack: Stack, token: str) -> int:
    status, body = stack.http("GET", "/v1/me", token=token)
    assert status == 200, body
    return int(body["balance"])


@pytest.fixture(scope="module")
def robot(stack: Stack) -> Any:
    client = stack.robot("robot-001")
    yield client
    client.disconnect()


def test_hostile_payloads_are_answered_or_quarantined_and_the_next_is_credited(
    stack: Stack, robot: RobotClient
) -> None:
    token = _citizen(stack, "e2e-hostile")
    admin = stack.token("e2e-hostile-ops", admin=True)
    code = _code(stack, token)
    # WHEN the robot sends a payload nested 50,000 deep (raw, through the rules engine)
    robot.publish_raw(b"[" * 50_000 + b"]" * 50_000)
    # AND deposits with loose types: a count as a string, as 1.0, as true; a time as a number
    loose = [
        robot.deposit(_event(code, cans="1")),
        robot.deposit(_event(code, cans=1.0)),
        robot.deposit(_event(code, cans=True)),
        robot.deposit(_event(code, occurred_at=int(time.time()))),
        robot.deposit({**_event(code), "citizen": {"phone": "０１０-５５５５-６６６６"}}),
    ]
    # AND then a good deposit with the same code
    good = robot.deposit(_event(code, cans=2))

    # THEN every loose one is rejected invalid_payload, the good one is credited (2 cans)
    assert [(a["status"], a["reason"]) for a in loose] == [("rejected", "invalid_payload")] * 5
    assert good["status"] == "credited" and good["points"] == 30
    assert _balance(stack, token) == 30

    # AND the deep one was answered too, and admins see it quarantined with its reason
    def quarantined() -> list[dict[str, Any]]:
        _, body = stack.http("GET", "/v1/admin/quarantine?limit=200", token=admin)
        return [i for i in body["items"] if "nested deeper" in (i["details"] or "")]

    assert _eventually(quarantined)
    assert any(
        a == {"event_id": None, "status": "rejected", "reason": "invalid_payload"}
        for a in robot.ack_log
    )
    # AND no quarantined entry holds the full-width number
    _, body = stack.http("GET", "/v1/admin/quarantine?limit=200", token=admin)
    assert "５５５５" not in json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("victim", ["robot-001", "gimhae-backend"])
def test_a_stolen_client_id_kicks_nobody(stack: Stack, robot: RobotClient, victim: str) -> None:
    token = _citizen(stack, "e2e-victim")
    log = stack.state_dir / "broker" / "mosquitto.log"
    seen = len(log.read_bytes())
    # GIVEN robot-002's certificate announcing the victim's client id (an impostor does not
    # ask this machine's lock on the id: iot/device_lock.py)
    impostor = RobotClient(
        victim, **stack_connection(stack.document, "robot-002", _abs), exclusive=False
    )
    impostor.connect()
    try:
        # (the broker logs a takeover before the connect it comes with: once the impostor's
        # connect is logged, any takeover is too)
        connected = _eventually(lambda: b"as robot-002 (" in log.read_bytes()[seen:])
        assert connected, log.read_bytes()[seen:].decode(errors="replace")
        # WHEN robot-001 deposits while the impostor is connected
        ack = robot.deposit(_event(_code(stack, token)), timeout=10)
    finally:
        impostor.disconnect()
    # THEN robot-001's session and the backend's were untouched: the deposit went round
    assert ack["status"] == "credited"
    assert robot.connected
    assert b"already connected, closing old connection" not in log.read_bytes()[seen:]


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [("TRACE", {}, 405), ("PROPFIND", {}, 405), ("GET", {"X-Big": "a" * 70_000}, 431)],
)
def test_the_gateway_answers_its_refusals_in_json(
    stack: Stack, method: str, headers: dict[str, str], status: int
) -> None:
    url = urllib.parse.urlparse(stack.api_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, "/v1/me", headers=headers)
        response = conn.getresponse()
        body = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == status
    assert response.getheader("Content-Type") == "application/json"
    assert set(body["error"]) == {"code", "message", "details"}
