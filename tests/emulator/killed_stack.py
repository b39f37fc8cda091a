"""A stack process killed outright (SIGKILL: no shutdown at all), for the tests that its
child processes (Lambda workers, the AWS emulator) end with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from infra.local.stack import REGION, ROOT


def children_of_a_killed_stack(tmp_path: Path, start: str) -> list[int]:
    """Run `start` (statements that start children and print their pids) in a fresh
    process that then kills itself; the printed pids."""
    script = tmp_path / "stack.py"
    body = "".join(f"    {line}\n" for line in start.strip().splitlines())
    script.write_text(
        "import os, signal\n"
        "if __name__ == '__main__':\n"
        f"{body}"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    pids = [int(p) for p in done.stdout.split()]
    assert pids, done.stderr
    return pids


def still_running(pids: list[int], within_s: float = 10) -> list[int]:
    """The pids still alive after waiting up to `within_s` for them to end."""
    deadline = time.monotonic() + within_s
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]
