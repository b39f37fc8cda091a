"""End-to-end tests: one real local stack (`python -m infra.local up`) shared by the session,
driven over real MQTT (awsiotsdk, mTLS) and real HTTP, exactly as robots and the app do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local.stack import spawn
from iot.device import RobotClient, stack_connection
from tests.conftest import ROOT

STARTUP_TIMEOUT_S = 90
SILENT_SECONDS = 6
"""The shared stack's health-job silence threshold: a test cannot wait DESIGN's 5 minutes."""
AIR_CLEAR_SECONDS = 4
"""The shared stack's air-alert hysteresis (DESIGN's 10 minutes calm before an air alert
clears): a test cannot wait 10 minutes either."""


@dataclass
class Stack:
    state_dir: Path
    document: dict[str, Any]
    process: subprocess.Popen[bytes]

    @property
    def api_url(self) -> str:
        return str(self.document["api_url"])

    def token(self, sub: str, admin: bool = False, roles: tuple[str, ...] = ()) -> str:
        command = [
            sys.executable,
            "-m",
            "infra.local",
            "token",
            "--sub",
            sub,
            "--state-dir",
            str(self.state_dir),
        ]
        if admin:
            command.append("--admin")
        if roles:
            command += ["--roles", ",".join(roles)]
        return subprocess.run(
            command, cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()

    def http(
        self, method: str, path: str, *, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api_url + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def outbox(self) -> list[dict[str, Any]]:
        """What the stack sent to people, read as a developer does: `python -m infra.local
        outbox` (JSON lines)."""
        command = [
            sys.executable,
            "-m",
            "infra.local",
            "outbox",
            "--state-dir",
            str(self.state_dir),
        ]
        out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        return [json.loads(line) for line in out.splitlines()]

    def link_phone(self, token: str, number: str) -> dict[str, Any]:
        """Link a phone as a citizen does: ask for a code, read the SMS from the local outbox
        (by the number's last 4 digits, among the messages sent since), send the code back."""
        import re

        from chalicelib.domain.phone_proofs import e164
        from chalicelib.domain.phones import normalize_mobile
        from infra.local.outbox import mask_phone

        since = len(self.outbox())
        status, sent = self.http("POST", "/v1/me/phone", token=token, body={"phone": number})
        assert status == 202, sent
        to = mask_phone(e164(normalize_mobile(number)))
        texts = [m["text"] for m in self.outbox()[since:] if m["to"] == to]
        assert texts, "no SMS reached the local outbox"
        code = re.search(r"\b(\d{6})\b", texts[0])
        assert code is not None, texts[0]
        body = {"verification_id": sent["verification_id"], "code": code.group(1)}
        status, verified = self.http("POST", "/v1/me/phone/verify", token=token, body=body)
        assert status == 200, verified
        return dict(verified)

    def aws(self, service: str) -> Any:
        """A boto3 client of the stack's emulator, as a developer reaches it
        (docs/local-stack.md)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.document["aws_endpoint_url"],
            region_name=self.document["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def robot(self, device_id: str) -> RobotClient:
        client = RobotClient(device_id, **stack_connection(self.document, device_id, _abs))
        client.connect()
        return client


def eventually(check: Callable[[], Any], timeout: float) -> Any:
    """Poll `check` until it returns something truthy or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def until(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30) -> Any:
    """Poll `read` until `done` holds for its answer, or fail at the deadline with the last
    answer (what a test needs to say what it saw instead)."""
    deadline = time.monotonic() + timeout
    answer = read()
    while not done(answer):
        if time.monotonic() > deadline:
            pytest.fail(f"not seen within {timeout} s; last answer: {answer}")
        time.sleep(0.3)
        answer = read()
    return answer


def _abs(path: str) -> str:
    return path if os.path.isabs(path) else str(ROOT / path)


def run_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's shared local stack, started and stopped: the body of the `stack` fixture
    (tests/conftest.py), which the e2e and the browser tests share."""
    state_dir = tmp_path_factory.mktemp("stack")
    log_file = state_dir / "stack.log"
    stack_file = state_dir / "stack.json"
    for _attempt in range(3):
        with log_file.open("wb") as log:
            process = spawn(
                state_dir,
                extra=("--sqs-visibility-timeout", "2"),
                environment={
                    "DEVICE_SILENT_SECONDS": str(SILENT_SECONDS),
                    "AIR_CLEAR_SECONDS": str(AIR_CLEAR_SECONDS),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not stack_file.exists() and process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                break
            time.sleep(0.2)
        if stack_file.exists():
            break
        # Exit code 2: a port chosen as free was taken meanwhile; pick others.
        if process.wait(10) != 2:
            break
    if not stack_file.exists():
        pytest.fail(f"the local stack did not start:\n{log_file.read_text()[-4000:]}")
    yield Stack(state_dir, json.loads(stack_file.read_text()), process)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


# -- helpers two or more e2e files share ---------------------------------------------------


def deposit_by_phone(robot: RobotClient, phone: str, cans: int, when: Any = None) -> dict[str, Any]:
    """A robot credits `cans` cans to the citizen with this phone number over MQTT (a late
    deposit, sent by a robot that was offline, names its citizen by phone too); its ack."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from iot.device import new_event_id

    seoul = ZoneInfo("Asia/Seoul")
    event = {
        "event_id": new_event_id(),
        "citizen": {"phone": phone},
        "items": [{"material": "can", "accepted": cans, "rejected": 0}],
        "occurred_at": (when or datetime.now(seoul)).astimezone(seoul).isoformat(),
    }
    ack = robot.deposit(event, timeout=20)
    assert ack["status"] == "credited", ack
    return dict(ack)


def create_challenge(stack: Stack, admin: str, **fields: Any) -> dict[str, Any]:
    """An admin creates a challenge over HTTP; its answer."""
    status, made = stack.http("POST", "/v1/admin/challenges", token=admin, body=fields)
    assert status == 201, made
    return dict(made)


def run_audit(stack: Stack, admin: str, timeout: float = 60) -> dict[str, Any]:
    """An admin runs the ledger audit (POST /v1/admin/audit) and reads its result once done."""
    status, started = stack.http("POST", "/v1/admin/audit", token=admin)
    assert status == 201, started
    return dict(
        until(
            lambda: stack.http("GET", "/v1/admin/audit", token=admin)[1],
            lambda a: a.get("audit_id") == started["audit_id"] and a["status"] == "done",
            timeout=timeout,
        )
    )
