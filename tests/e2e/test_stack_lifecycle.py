"""The local stack as an operator runs it: a taken port is a clear error, a token from the
`token` command is accepted, and SIGTERM stops everything it started."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import cast

import pytest

from infra.local.stack import free_port as _free_port
from infra.local.stack import spawn
from tests.conftest import ROOT
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _up(state_dir: Path, api: int, aws: int, mqtt: int) -> subprocess.Popen[str]:
    return cast(
        "subprocess.Popen[str]",
        spawn(
            state_dir,
            api_port=api,
            aws_port=aws,
            mqtt_port=mqtt,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    )


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def test_a_taken_port_is_a_clear_error(stack: Stack, tmp_path: Path) -> None:
    # GIVEN a running stack holding its API port
    taken = int(stack.api_url.rsplit(":", 1)[1])
    # WHEN a second stack is asked to use the same port
    second = _up(tmp_path, taken, _free_port(), _free_port())
    output, _ = second.communicate(timeout=60)
    # THEN it refuses at once, naming the port and the option, and leaves nothing behind
    assert second.returncode == 2
    assert f"port {taken} (API) is already in use" in output
    assert "--api-port" in output
    assert not (tmp_path / "stack.json").exists()
    assert not _processes_mentioning(str(tmp_path))


def test_token_command_and_clean_stop(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    process = _up(state_dir, _free_port(), _free_port(), _free_port())
    deadline = time.monotonic() + 90
    while not (state_dir / "stack.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stdout
        time.sleep(0.2)
    document = json.loads((state_dir / "stack.json").read_text())
    # WHEN a citizen token is minted with the token command
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.local",
            "token",
            "--sub",
            "lifecycle",
            "--state-dir",
            str(state_dir),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert token.count(".") == 2
    request = urllib.request.Request(
        document["api_url"] + "/v1/me", headers={"authorization": f"Bearer {token}"}
    )
    # THEN the API accepts it (an unregistered citizen: 404, not 401)
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 404
    assert _processes_mentioning(str(state_dir / "broker"))
    # WHEN the stack gets SIGTERM
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    # THEN it exits cleanly, removes stack.json and leaves no broker behind
    assert process.returncode == 0
    assert not (state_dir / "stack.json").exists()
    assert not _processes_mentioning(str(state_dir / "broker"))


def _wait_ready(process: subprocess.Popen[str], state_dir: Path) -> dict[str, object]:
    deadline = time.monotonic() + 90
    while not (state_dir / "stack.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stdout
        time.sleep(0.2)
    return cast("dict[str, object]", json.loads((state_dir / "stack.json").read_text()))


def _call(api_url: str, method: str, path: str, token: str, body: object = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api_url + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {token}")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_restart_on_the_same_state_folder_keeps_the_data(tmp_path: Path) -> None:
    from infra.local.dev_issuer import ensure_issuer

    state_dir = tmp_path / "state"
    ports = (_free_port(), _free_port(), _free_port())
    # GIVEN a stack where a citizen registered and synced steps
    process = _up(state_dir, *ports)
    document = _wait_ready(process, state_dir)
    token = ensure_issuer(state_dir).mint("keeps-data")
    api = str(document["api_url"])
    _call(api, "PUT", "/v1/me", token, {"display_name": "남는사람", "district": "buwon-dong"})
    today = _call(api, "GET", "/v1/me", token)
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))
    _call(api, "PUT", "/v1/me/steps", token, {"days": [{"date": day, "steps": 4321}]})
    # WHEN it is stopped (as Ctrl-C does) and started again on the same folder
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    assert process.returncode == 0
    process = _up(state_dir, *ports)
    try:
        document = _wait_ready(process, state_dir)
        # THEN the citizen, their balance and their steps are still there
        me = _call(str(document["api_url"]), "GET", "/v1/me", token)
        assert isinstance(me, dict) and isinstance(today, dict)
        assert me["display_name"] == "남는사람"
        assert me["created_at"] == today["created_at"]
        assert me["today_steps"] == 4321
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    # AND `up --fresh` starts empty
    api_port, aws_port, mqtt_port = ports
    process = cast(
        "subprocess.Popen[str]",
        spawn(
            state_dir,
            api_port=api_port,
            aws_port=aws_port,
            mqtt_port=mqtt_port,
            extra=("--fresh",),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    )
    try:
        document = _wait_ready(process, state_dir)
        with pytest.raises(urllib.error.HTTPError) as answer:
            _call(str(document["api_url"]), "GET", "/v1/me", token)
        assert answer.value.code == 404
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
