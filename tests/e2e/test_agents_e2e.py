"""Device agents against a real local stack: outages, kills, shadows, run-time provisioning.

The broker is stopped and restarted here, so these tests run on their own stack (started
with `infra.local.stack.spawn` on free ports), never on the session's shared one. Devices
are provisioned at run time with `python -m iot provision`, as an operator would.

Each test prints the numbers the issue asks for (lost, doubled, restart-to-last-ack).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.broker import find_mosquitto
from infra.local.stack import spawn
from iot.agents import DeviceConfig, RobotAgent, ShelterAgent
from iot.outbox import Outbox
from tests.conftest import ROOT
from tests.e2e.conftest import STARTUP_TIMEOUT_S, Stack

pytestmark = pytest.mark.e2e

POINTS_PER_CAN = 15  # one can per deposit below (the dev stage's rate table)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state_dir = tmp_path_factory.mktemp("agents-stack")
    stack_file = state_dir / "stack.json"
    log_file = state_dir / "stack.log"
    with log_file.open("wb") as log:
        process = spawn(
            state_dir,
            extra=("--sqs-visibility-timeout", "2"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the stack did not start:\n{log_file.read_text()[-3000:]}")
        time.sleep(0.1)
    yield Stack(state_dir, json.loads(stack_file.read_text()), process)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
    for pid in _mosquitto_pids(state_dir):  # a broker this module restarted itself
        os.kill(pid, signal.SIGTERM)


def _provision(stack: Stack, thing: str, device_type: str) -> DeviceConfig:
    result = subprocess.run(
        [sys.executable, "-m", "iot", "provision", "--thing", thing, "--type", device_type,
         "--state-dir", str(stack.state_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return DeviceConfig.load(json.loads(result.stdout)["config"])


def _citizen(stack: Stack, citizen_id: str, phone: str) -> str:
    token = stack.token(citizen_id)
    status, body = stack.http(
        "PUT",
        "/v1/me",
        token=token,
        body={"display_name": citizen_id, "district": "naeoe-dong"},
    )
    assert status == 200, body
    stack.link_phone(token, phone)
    return token


def _balance(stack: Stack, token: str) -> int:
    status, body = stack.http("GET", "/v1/me", token=token)
    assert status == 200, body
    return int(body["balance"])


def _mosquitto_pids(state_dir: Path) -> list[int]:
    conf = str(state_dir / "broker" / "mosquitto.conf")
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "mosquitto" in cmdline and conf in cmdline:
                pids.append(int(entry.name))
    return pids


def _robot_status(stack: Stack, device_id: str) -> Any:
    status, body = stack.http("GET", f"/v1/robots/{device_id}")
    return body.get("status") if status == 200 else None


def _wait_for(check: Any, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _can() -> list[dict[str, Any]]:
    return [{"material": "can", "accepted": 1, "rejected": 0}]


@pytest.fixture(scope="module")
def robot_config(own_stack: Stack) -> DeviceConfig:
    return _provision(own_stack, "robot-e2e-01", "robot")


def test_a_robot_provisioned_at_run_time_connects_and_is_credited(
    own_stack: Stack, robot_config: DeviceConfig, tmp_path: Path
) -> None:
    # GIVEN a robot provisioned while the stack runs (its key never left its folder)
    key = Path(robot_config.key_file)
    assert key.stat().st_mode & 0o777 == 0o600
    assert Path(robot_config.cert_file).parent == key.parent
    token = _citizen(own_stack, "agents-a", "010-5555-0001")
    acks: list[dict[str, Any]] = []
    # WHEN it deposits through its agent
    agent = RobotAgent(robot_config, outbox=Outbox(tmp_path / "o.sqlite"), on_ack=acks.append)
    with agent:
        assert agent.wait_ready(15)
        event_id = agent.deposit({"phone": "010-5555-0001"}, _can())
        ack = agent.wait_for_ack(event_id, 20)
        # AND its heartbeat makes it online in the city's list
        assert _wait_for(lambda: _robot_status(own_stack, robot_config.device_id) == "online")
    # THEN the cloud credits it and the robot's screen got the ack once
    assert ack is not None and ack["status"] == "credited", ack
    assert acks == [ack]
    assert _balance(own_stack, token) == POINTS_PER_CAN


def test_a_shadow_change_reaches_the_shelter_and_its_report_comes_back(
    own_stack: Stack,
) -> None:
    config = _provision(own_stack, "shelter-e2e-01", "shelter")
    data = boto3.client(
        "iot-data",
        endpoint_url=own_stack.document["aws_endpoint_url"],
        region_name=own_stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )

    def set_desired(mode: str) -> None:
        doc = {"state": {"desired": {"purifier": mode}}}
        data.update_thing_shadow(thingName=config.device_id, payload=json.dumps(doc))

    def shadow_state(section: str) -> Any:
        doc = json.loads(data.get_thing_shadow(thingName=config.device_id)["payload"].read())
        return doc.get("state", {}).get(section, {}).get("purifier")

    def wait_for(check: Any, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.1)
        return False

    shelter = ShelterAgent(config)
    with shelter:
        assert shelter.wait_ready(15)
        # WHEN the air in the shelter turns bad, the cloud desires the purifier on high
        shelter.telemetry({"pm10": 120.0, "pm25": 40.0})
        # THEN the shelter runs it and its report reaches the shadow
        assert wait_for(lambda: shelter.purifier == "high")
        assert wait_for(lambda: shadow_state("reported") == "high")
    # AND a desired written behind the cloud's back while the shelter is offline is put
    # back by the cloud (it owns desired), and the shelter comes back running the cloud's mode
    set_desired("off")
    assert wait_for(lambda: shadow_state("desired") == "high")
    again = ShelterAgent(config)
    with again:
        assert wait_for(lambda: again.purifier == "high")
        assert wait_for(lambda: shadow_state("reported") == "high")


# The outage test restarts the broker outside the stack's control: tests that provision
# (the stack reloads its broker's ACL) come before it.
def test_a_broker_outage_loses_and_doubles_nothing(
    own_stack: Stack, robot_config: DeviceConfig, tmp_path: Path
) -> None:
    token = _citizen(own_stack, "agents-b", "010-5555-0002")
    outbox = Outbox(tmp_path / "o.sqlite")
    agent = RobotAgent(robot_config, outbox=outbox, resend_after_s=2.0, tick_s=0.1)
    total = 30
    broker: subprocess.Popen[bytes] | None = None
    with agent:
        assert agent.wait_ready(15)
        # GIVEN a stream of deposits, ten a second
        ids = []
        for n in range(total):
            ids.append(agent.deposit({"phone": "010-5555-0002"}, _can()))
            time.sleep(0.1)
            if n == 9:
                # WHEN the broker dies mid-stream (SIGKILL: no goodbye to anyone)...
                [pid] = _mosquitto_pids(own_stack.state_dir)
                os.kill(pid, signal.SIGKILL)
            if n == 19:
                # ...and comes back two seconds later, same configuration, empty sessions
                conf = own_stack.state_dir / "broker" / "mosquitto.conf"
                broker = subprocess.Popen(
                    [find_mosquitto(), "-c", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                restarted = time.monotonic()
        assert broker is not None
        drained = agent.wait_drained(60)
        last_ack = time.monotonic()
    acks = outbox.acks()
    lost = sum(1 for e in ids if e not in acks)
    balance = _balance(own_stack, token)
    doubled = (balance - POINTS_PER_CAN * (total - lost)) // POINTS_PER_CAN
    print(
        f"\nbroker outage: {total} deposits, lost {lost}, doubled {doubled}, "
        f"restart -> last ack {last_ack - restarted:.1f}s"
    )
    # THEN every deposit was credited exactly once
    assert drained and lost == 0
    assert all(a["status"] in ("credited", "duplicate") for a in acks.values()), acks
    assert all(a["points"] == POINTS_PER_CAN for a in acks.values())
    assert balance == POINTS_PER_CAN * total


def test_a_robot_killed_and_restarted_on_its_outbox_loses_and_doubles_nothing(
    own_stack: Stack, robot_config: DeviceConfig, tmp_path: Path
) -> None:
    token = _citizen(own_stack, "agents-c", "010-5555-0003")
    config_file = tmp_path / "config.json"
    doc = json.loads(Path(robot_config.cert_file).with_name("config.json").read_text())
    doc.update(
        cert_file=robot_config.cert_file,
        key_file=robot_config.key_file,
        outbox=str(tmp_path / "outbox.sqlite"),
    )
    config_file.write_text(json.dumps(doc))
    base = [sys.executable, "-m", "iot", "robot", "--config", str(config_file)]
    # GIVEN a robot process taking a deposit every 30 ms
    first = subprocess.Popen(
        [*base, "--deposits", "40", "--every", "0.03", "--phone", "010-5555-0003"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert first.stdout is not None
    # WHEN it is killed (SIGKILL) after five acks, just after it took one more deposit
    acks_seen = 0
    while True:
        line = first.stdout.readline()
        assert line, "the robot stopped before it was killed"
        acks_seen += line.startswith("{")
        if acks_seen >= 5 and line.startswith("# queued"):
            break
    first.kill()
    first.wait(10)
    # (its last will marks it offline at once, not after five silent minutes)
    assert _wait_for(lambda: _robot_status(own_stack, robot_config.device_id) == "offline")
    pending, acked = Outbox(tmp_path / "outbox.sqlite").counts()
    # AND restarted on the same outbox with nothing new to deposit
    second = subprocess.run(
        [*base, "--exit-when-drained"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    # THEN each deposit the robot took is credited exactly once
    box = Outbox(tmp_path / "outbox.sqlite")
    still, done = box.counts()
    balance = _balance(own_stack, token)
    lost = still
    doubled = (balance - POINTS_PER_CAN * done) // POINTS_PER_CAN
    print(
        f"\nrobot killed: {pending + acked} deposits taken, {pending} pending at the kill; "
        f"lost {lost}, doubled {doubled}"
    )
    assert pending > 0, "the kill came after everything was acked: nothing was tested"
    assert lost == 0 and done == pending + acked
    assert balance == POINTS_PER_CAN * done
