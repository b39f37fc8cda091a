"""A local stack of the benchmark's own: `python -m infra.local up` in a child process on
free ports, in a temporary folder, stopped (SIGTERM) and removed afterwards."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STARTUP_TIMEOUT_S = 120


@contextmanager
def running_stack(environment: dict[str, str] | None = None) -> Iterator[tuple[Path, float]]:
    """The stack's state folder (its stack.json written) and how long it took to start.
    `environment`: settings for its handlers (infra.local.stack.spawn)."""
    from infra.local.stack import spawn

    state = Path(tempfile.mkdtemp(prefix="gimhae-bench-"))
    started = time.monotonic()
    process = spawn(
        state, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, environment=environment
    )
    try:
        while not (state / "stack.json").exists():
            if process.poll() is not None or time.monotonic() - started > STARTUP_TIMEOUT_S:
                raise RuntimeError("the stack did not start")
            time.sleep(0.05)
        yield state, time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(state, ignore_errors=True)  # it holds private keys
