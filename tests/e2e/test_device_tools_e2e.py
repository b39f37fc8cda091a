"""A device maker's session on the local stack, typed as a maker types it (`python -m iot ...`
as subprocesses, no PYTHONPATH): provision a shelter with a name, a district and a location,
publish a bad-air reading with `publish`, see the alert and the shelter where it stands; a
second process on one device identity is refused; a robot takes a deposit typed on stdin; a
publish on another device's topic is refused by the broker."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iot import cli
from tests.conftest import ROOT
from tests.e2e.conftest import Stack, until

pytestmark = pytest.mark.e2e

SHELTER = "shelter-maker-01"
ROBOT = "robot-maker-01"
PHONE = "010-7777-0101"


def _iot(stack: Stack, *args: str, stdin: str | None = None, timeout: float = 60) -> Any:
    """`python -m iot ARGS --state-dir <the stack's>`, run from the repository as a maker
    runs it, with no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "iot", *args, "--state-dir", str(stack.state_dir)],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _provisioned(stack: Stack, thing: str, *details: str) -> dict[str, Any]:
    done = _iot(stack, "provision", "--thing", thing, *details)
    assert done.returncode == 0, done.stderr
    (summary,) = _lines(done.stdout)
    return dict(summary)


def _shelter_agent(stack: Stack, every: float) -> subprocess.Popen[str]:
    """`python -m iot shelter` in clean air, once it sent its first reading (connected)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    agent = subprocess.Popen(
        [sys.executable, "-m", "iot", "shelter", "--device", SHELTER, "--scenario", "calm",
         "--every", str(every), "--state-dir", str(stack.state_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert agent.stdout is not None
    first = json.loads(agent.stdout.readline())
    assert first["telemetry"]["pm10"] == 18.0, first
    return agent


@pytest.fixture(scope="module")
def shelter(stack: Stack) -> dict[str, Any]:
    return _provisioned(
        stack,
        SHELTER,
        *("--type", "shelter", "--name", "해반천 스마트쉼터", "--district", "buwon-dong"),
        *("--lat", "35.2335", "--lon", "128.8810"),
    )


def test_a_makers_session_from_provisioning_to_the_alert(
    stack: Stack, shelter: dict[str, Any]
) -> None:
    # GIVEN a shelter provisioned with its name, district and location (the fixture)
    assert (shelter["name"], shelter["district"]) == ("해반천 스마트쉼터", "buwon-dong")
    assert shelter["location"] == {"lat": 35.2335, "lon": 128.881}
    assert Path(shelter["config"]).is_file()
    # WHEN the maker publishes a very bad reading on its telemetry topic
    published = _iot(
        stack, "publish", "--device", SHELTER, "telemetry", '{"pm10": 160, "pm25": 80}'
    )
    # THEN the broker acknowledged it, and the command shows what it sent
    assert published.returncode == 0, published.stderr
    (sent,) = _lines(published.stdout)
    assert sent["topic"] == f"gimhae/shelters/{SHELTER}/telemetry"
    assert sent["qos"] == 1 and sent["puback"]["code"] < 0x80
    assert (sent["payload"]["pm10"], sent["payload"]["pm25"]) == (160, 80)
    # AND the app shows the shelter where it stands, its air very bad
    view = until(
        lambda: stack.http("GET", f"/v1/shelters/{SHELTER}")[1],
        lambda body: (body.get("air") or {}).get("grade") == "very_bad",
    )
    assert (view["name"], view["district"]) == ("해반천 스마트쉼터", "buwon-dong")
    assert view["location"] == {"lat": 35.2335, "lon": 128.881}
    # AND the district's list has it
    _, listed = stack.http("GET", "/v1/shelters?district=buwon-dong")
    assert SHELTER in [s["device_id"] for s in listed["shelters"]]
    # AND an operator sees its air alert
    operator = stack.token("ops-e2e-maker", roles=("operator",))

    def alerts() -> list[dict[str, Any]]:
        status, body = stack.http("GET", "/v1/admin/alerts?status=active&kind=air", token=operator)
        assert status == 200, body
        return [a for a in body["alerts"] if a["device_id"] == SHELTER]

    (alert,) = until(alerts, lambda found: len(found) == 1)
    assert alert["severity"] == "critical"


def test_provisioning_again_moves_the_shelter(stack: Stack, shelter: dict[str, Any]) -> None:
    # WHEN the maker fixes the location (and the name) by provisioning again
    moved = _provisioned(
        stack,
        SHELTER,
        *("--type", "shelter", "--name", "해반천 쉼터", "--district", "hoehyeon-dong"),
        *("--lat", "35.2301", "--lon", "128.8795"),
    )
    assert moved["district"] == "hoehyeon-dong"
    # THEN the app shows it at its new place
    _, view = stack.http("GET", f"/v1/shelters/{SHELTER}")
    assert (view["name"], view["district"]) == ("해반천 쉼터", "hoehyeon-dong")
    assert view["location"] == {"lat": 35.2301, "lon": 128.8795}


def test_a_wrong_district_or_place_is_refused_before_anything_is_made(stack: Stack) -> None:
    refused = _iot(
        stack, "provision", "--thing", "shelter-maker-02", "--type", "shelter",
        "--district", "gangnam-gu", "--lat", "37.5665", "--lon", "126.978",
    )  # fmt: skip
    assert refused.returncode == cli.EXIT_USAGE
    assert "district 'gangnam-gu'" in refused.stderr and "not in the city" in refused.stderr
    assert (
        "shelter-maker-02"
        not in json.loads((stack.state_dir / "stack.json").read_text())["mqtt"]["devices"]
    )


def test_another_devices_topic_is_refused_by_the_broker(
    stack: Stack, shelter: dict[str, Any]
) -> None:
    refused = _iot(
        stack, "publish", "--device", SHELTER, "gimhae/shelters/shelter-002/telemetry",
        '{"pm10": 500}',
    )  # fmt: skip
    assert refused.returncode == cli.EXIT_REFUSED, refused.stderr
    assert "refused by the broker" in refused.stderr and "shelter-002" in refused.stderr


def test_a_second_process_on_one_identity_is_refused(stack: Stack, shelter: dict[str, Any]) -> None:
    # GIVEN the shelter's agent running
    agent = _shelter_agent(stack, every=1.0)
    try:
        assert agent.stdout is not None
        # WHEN the maker publishes as the same device from another process
        second = _iot(stack, "publish", "--device", SHELTER, "status", '{"online": true}')
        # THEN it is refused, saying who holds the identity, and the agent runs on
        assert second.returncode == cli.EXIT_BUSY
        assert f"{SHELTER} is already connected" in second.stderr
        assert f"process {agent.pid}" in second.stderr
        assert agent.poll() is None
        assert "telemetry" in json.loads(agent.stdout.readline())
    finally:
        agent.terminate()
        _, errors = agent.communicate(timeout=20)
    assert "session taken over" not in errors
    # AND once it stopped, the identity is free again
    again = _iot(stack, "publish", "--device", SHELTER, "status", '{"online": true}')
    assert again.returncode == 0, again.stderr


def test_a_taken_over_session_is_a_warning(stack: Stack, shelter: dict[str, Any]) -> None:
    """Another machine (here: a client that skips this machine's lock) connecting with the
    device's id takes the session over: the agent says so instead of silently fighting."""
    from iot.agents import DeviceConfig
    from iot.device import ShelterClient

    agent = _shelter_agent(stack, every=0.5)
    try:
        config = DeviceConfig.load(shelter["config"])
        other = ShelterClient(SHELTER, **config.connection(), exclusive=False)
        other.connect()
        time.sleep(3.0)
        other.disconnect()
    finally:
        agent.terminate()
        _, errors = agent.communicate(timeout=20)
    assert "session taken over" in errors, errors


@pytest.fixture(scope="module")
def citizen(stack: Stack) -> tuple[str, str]:
    """A robot provisioned by the maker, and a citizen with a proven phone: (token, phone)."""
    _provisioned(stack, ROBOT, "--type", "robot", "--name", "해반천 회수로봇")
    token = stack.token("e2e-maker-citizen")
    body = {"display_name": "메이커", "district": "buwon-dong"}
    status, _ = stack.http("PUT", "/v1/me", token=token, body=body)
    assert status == 200
    stack.link_phone(token, PHONE)
    return token, PHONE


def _balance(stack: Stack, token: str) -> int:
    _, me = stack.http("GET", "/v1/me", token=token)
    return int(me["balance"])


def test_a_robot_takes_deposits_typed_on_stdin(stack: Stack, citizen: tuple[str, str]) -> None:
    token, phone = citizen
    before = _balance(stack, token)
    # WHEN deposits are typed on the robot's stdin: a short line, a mistake, a JSON one
    typed = (
        f"phone {phone} can=3 pet=2\n"
        f"phone {phone} glass\n"
        f'{{"citizen": {{"phone": "{phone}"}}, "items": '
        '[{"material": "pet", "accepted": 1, "rejected": 0}]}\n'
    )
    robot = _iot(stack, "robot", "--device", ROBOT, "--stdin", stdin=typed, timeout=90)
    # THEN each ack is one JSON line, the mistake a clear error, and it exits when done
    assert robot.returncode == 0, robot.stderr
    acks = _lines(robot.stdout)
    assert [a["status"] for a in acks] == ["credited", "credited"], acks
    assert "line 2: 'glass': expected MATERIAL=COUNT" in robot.stderr
    assert _balance(stack, token) - before == sum(a["points"] for a in acks) > 0


@contextlib.contextmanager
def robot_on_port(stack: Stack, device: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`python -m iot robot --port 0` and the port it says it took; stopped at the end."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    agent = subprocess.Popen(
        [sys.executable, "-m", "iot", "robot", "--device", device, "--port", "0",
         "--state-dir", str(stack.state_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    watchdog = threading.Timer(60, agent.kill)  # a hung agent fails the test, not the run
    watchdog.start()
    try:
        assert agent.stderr is not None and agent.stdout is not None
        port = None
        while port is None:
            note = agent.stderr.readline()
            assert note, "the robot stopped"
            if "taking deposits on 127.0.0.1:" in note:
                port = int(note.rsplit(":", 1)[1])
        yield agent, port
    finally:
        watchdog.cancel()
        if agent.poll() is None:
            agent.terminate()
            agent.communicate(timeout=20)


def test_a_robot_takes_deposits_on_its_local_port(stack: Stack, citizen: tuple[str, str]) -> None:
    _, phone = citizen
    # GIVEN the robot agent listening on a loopback port (0: any free one, as it says)
    with robot_on_port(stack, ROBOT) as (agent, port):
        assert agent.stdout is not None
        # WHEN a deposit line is sent to the port, then a wrong one
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(f"phone {phone} can=2\nphone {phone}\n".encode())
            answers = conn.makefile("r", encoding="utf-8")
            ack, refused = json.loads(answers.readline()), json.loads(answers.readline())
        # THEN the connection gets the ack (and the robot's screen shows it) and the reason
        assert (ack["status"], ack["points"]) == ("credited", 30), ack
        assert json.loads(agent.stdout.readline()) == ack
        assert refused == {"error": "no items: add e.g. can=3 pet=2"}


def test_publish_on_deposits_waits_for_the_ack(stack: Stack, citizen: tuple[str, str]) -> None:
    _, phone = citizen
    deposit = {"citizen": {"phone": phone}, "items": [{"material": "can", "accepted": 1}]}
    # WHEN the maker publishes a deposit with `publish`
    done = _iot(stack, "publish", "--device", ROBOT, "deposits", json.dumps(deposit))
    # THEN it shows the PUBACK, then the cloud's ack of the event it sent
    assert done.returncode == 0, done.stderr
    sent, answer = _lines(done.stdout)
    assert sent["payload"]["event_id"] == answer["ack"]["event_id"]
    assert answer["ack"]["status"] == "credited"
    # AND malformed bytes sent --raw get the cloud's own answer
    raw = _iot(stack, "publish", "--device", ROBOT, "deposits", "--raw", '{"event_id": ')
    assert raw.returncode == 0, raw.stderr
    _, answer = _lines(raw.stdout)
    assert answer["ack"] == {"event_id": None, "status": "rejected", "reason": "invalid_payload"}
