"""A hostile tester at the device maker's tools, on the local stack (`python -m iot ...` as
subprocesses): path tricks on topics stay the device's own or are refused by the broker; a
fleet robot cannot be re-provisioned as a shelter; a robot fed junk bytes, overlong lines
and deposits the cloud could not acknowledge keeps going and exits when done; its port
survives an idle client, a flood and a client gone before its answer; a dead broker is
exit code 1 with a sentence, never a traceback. The parsers' cases are in
tests/unit/test_hostile_tools.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from iot import cli
from tests.conftest import ROOT
from tests.e2e.conftest import Stack
from tests.e2e.test_device_tools_e2e import robot_on_port

pytestmark = pytest.mark.e2e

ROBOT = "robot-hostile-01"


def _iot(stack: Stack, *args: str, stdin: bytes | None = None, timeout: float = 60) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # stdin strict as under a en_US.UTF-8 locale (C.UTF-8 would escape bad bytes instead)
    env["PYTHONIOENCODING"] = "utf-8:strict"
    return subprocess.run(
        [sys.executable, "-m", "iot", *args, "--state-dir", str(stack.state_dir)],
        cwd=ROOT, env=env, input=stdin, capture_output=True, timeout=timeout,
    )  # fmt: skip


def _lines(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def robot(stack: Stack) -> dict[str, Any]:
    done = _iot(stack, "provision", "--thing", ROBOT, "--type", "robot")
    assert done.returncode == 0, done.stderr
    (summary,) = _lines(done.stdout)
    return dict(summary)


@pytest.mark.parametrize(
    "topic",
    [
        "../robot-001/deposits",
        "shadow/../../robot-001/shadow/update",
        "$aws/things/robot-001/shadow/update",
        "gimhae/robots/robot-001/status",
    ],
)
def test_another_devices_topic_by_any_spelling_is_refused(
    stack: Stack, robot: dict[str, Any], topic: str
) -> None:
    done = _iot(stack, "publish", "--device", ROBOT, topic, '{"state": {}}', "--timeout", "5")
    assert done.returncode == cli.EXIT_REFUSED, done.stderr
    assert b"refused by the broker" in done.stderr and b"Traceback" not in done.stderr


def test_a_device_cannot_take_the_backends_identity(stack: Stack) -> None:
    """A device named `gimhae-backend` got a certificate the broker took for the backend's
    (every topic): it could publish any robot's acks."""
    done = _iot(stack, "provision", "--thing", "gimhae-backend", "--type", "robot")
    assert done.returncode == cli.EXIT_USAGE
    assert b"the local broker's own identity" in done.stderr
    assert not (stack.state_dir / "devices" / "gimhae-backend").exists()


def test_a_fleet_robot_cannot_be_provisioned_as_a_shelter(stack: Stack) -> None:
    done = _iot(stack, "provision", "--thing", "robot-001", "--type", "shelter")
    assert done.returncode == cli.EXIT_USAGE
    assert b"robot-001 exists as a robot" in done.stderr
    listed = json.loads((stack.state_dir / "stack.json").read_text())["mqtt"]["devices"]
    assert listed["robot-001"].get("type", "robot") == "robot"


def test_a_dead_broker_is_a_sentence_and_exit_code_1(
    stack: Stack, robot: dict[str, Any], tmp_path: Path
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = json.loads(Path(robot["config"]).read_text())
    folder = Path(robot["config"]).parent
    config |= {"port": port, "cert_file": str(folder / config["cert_file"])}
    config |= {"key_file": str(folder / config["key_file"]), "outbox": None}
    (tmp_path / "dead.json").write_text(json.dumps(config))
    done = _iot(stack, "publish", "--config", str(tmp_path / "dead.json"), "status", "{}")
    assert done.returncode == cli.EXIT_ERROR
    assert f"connect to 127.0.0.1:{port} failed".encode() in done.stderr
    assert b"Traceback" not in done.stderr


def test_a_robot_fed_junk_keeps_going_and_exits_when_done(
    stack: Stack, robot: dict[str, Any]
) -> None:
    typed = (
        b"phone 010-7000-9001 can=1\n"
        b"\xff\xfe\x00junk\n"  # not UTF-8: used to end the reader, and the robot never exited
        + b"a"
        * 300_000  # an overlong line
        + b'\n{"citizen": {"phone": "x"}, "items": [], "event_id": "bad"}\n'  # never acked
        b'{"citizen": {"phone": "x"}, "items": [{"accepted": NaN}]}\n'
        b"phone 010-7000-9001 can=2\n"
        b"code 123456 can=1 at=0001-01-01T00:00:00Z\n"  # crashed the handler: no ack, ever
        b"phone 010-7000-9001 can=1 at=9999-12-31T23:59:59-12:00\n"
    )
    done = _iot(stack, "robot", "--device", ROBOT, "--stdin", stdin=typed, timeout=90)
    assert done.returncode == 0, done.stderr
    acks = _lines(done.stdout)
    reasons = sorted(a.get("reason") for a in acks)  # acks come as the cloud settles them
    assert reasons == ["occurred_at_out_of_range"] * 2 + ["unknown_citizen"] * 2, acks
    errors = [line for line in done.stderr.decode().splitlines() if line.startswith("error:")]
    assert [e.split(":")[1] for e in errors] == [" line 2", " line 3", " line 4", " line 5"]
    assert "over 128 KB" in errors[1] and "Traceback" not in done.stderr.decode()


def test_a_robots_port_survives_idle_flooding_and_vanishing_clients(
    stack: Stack, robot: dict[str, Any]
) -> None:
    with robot_on_port(stack, ROBOT) as (agent, port):
        idle = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing
        with socket.create_connection(("127.0.0.1", port)) as gone:  # leaves before its ack
            gone.sendall(b"phone 010-7000-9002 can=1\n")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as flood:
            for _ in range(30):  # 3 MB without a newline: never held whole
                flood.sendall(b"y" * 100_000)
            flood.sendall(b"\nphone 010-7000-9003 can=1\n\x00\xff\n")
            answers = flood.makefile("rb")
            replies = [json.loads(answers.readline()) for _ in range(3)]
        assert replies[0] == {"error": "the line is over 128 KB: not a deposit"}
        assert replies[1]["status"] == "rejected"  # the cloud's answer: unknown citizen
        assert "phone NUMBER" in replies[2]["error"]
        idle.close()
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=20)
        assert agent.returncode == 0 and "Traceback" not in err, err


def test_a_raw_deposit_with_a_malformed_id_gets_the_clouds_answer(
    stack: Stack, robot: dict[str, Any]
) -> None:
    """The cloud answers it with `event_id: null` (it names only ids of the form): publish
    waits for that answer, not 15 s for an ack that names "bad"."""
    raw = '{"event_id": "bad", "citizen": {"code": "1"}, "items": []}'
    done = _iot(stack, "publish", "--device", ROBOT, "deposits", "--raw", raw, "--timeout", "20")
    assert done.returncode == 0, done.stderr
    _, answer = _lines(done.stdout)
    assert answer["ack"] == {"event_id": None, "status": "rejected", "reason": "invalid_payload"}
