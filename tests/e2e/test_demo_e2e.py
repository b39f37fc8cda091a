"""`up --demo` as a newcomer runs it: within 30 seconds the city is alive, with no error."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from infra.local.stack import spawn
from tests.e2e.conftest import STARTUP_TIMEOUT_S, Stack

pytestmark = pytest.mark.e2e

RUN_S = 30


def test_the_demo_runs_30_seconds_credits_points_moves_boards_and_shows_grades(
    tmp_path: Path,
) -> None:
    # GIVEN a stack started with the demo at 60x
    log_file = tmp_path / "demo.log"
    with log_file.open("wb") as log:
        process = spawn(
            tmp_path,
            extra=("--demo", "--demo-speed", "60"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not (tmp_path / "stack.json").exists():
            assert process.poll() is None, log_file.read_text()[-3000:]
            assert time.monotonic() < deadline, "the stack did not start"
            time.sleep(0.1)
        stack = Stack(tmp_path, json.loads((tmp_path / "stack.json").read_text()), process)
        # WHEN it runs for 30 seconds
        time.sleep(RUN_S)
        status, districts = stack.http("GET", "/v1/leaderboards/districts")
        _, shelters = stack.http("GET", "/v1/shelters")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    output = log_file.read_text()
    print(output[-1500:])
    # THEN nothing failed and it stopped cleanly
    assert process.returncode == 0
    assert "Traceback" not in output and " ERROR " not in output
    errors = [
        line
        for line in output.splitlines()
        if line.startswith("demo: ") and "purifier" not in line and "citizens" not in line
    ]
    assert errors == []
    # AND the live view showed points credited, walkers on the board, air grades
    points = [int(p.replace(",", "")) for p in re.findall(r"points today ([\d,]+)", output)]
    assert len(points) >= 4 and points[-1] > 0 and points[-1] >= points[0]
    tops = re.findall(r"\| top (\S+) ([\d,]+)", output)
    assert tops and int(tops[-1][1].replace(",", "")) > 0
    assert re.search(r"air shelter-00\d=(good|moderate|bad|very_bad)", output)
    # AND the API agrees: the districts' board moved and shelters have grades
    assert status == 200 and len(districts["entries"]) >= 2
    assert all(s["air"]["grade"] for s in shelters["shelters"])
