"""The test clock (infra/local/stack_clock.py) where the stack reads time: a Lambda worker
process, which installs it before it imports the app, and the scheduler, which fires each
schedule whose time an advance skipped once, and plans again from real time after a reset."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local import stack_clock
from infra.local.lambda_runtime import LambdaContext
from infra.local.lambda_sandboxes import LambdaSandboxes
from infra.local.scheduler import ScheduledJob, Scheduler, request_clock
from infra.local.stack_clock import StackClock

MODULE = "tests.emulator.sandboxed_handlers"


def test_a_lambda_worker_reads_the_stacks_clock_even_where_the_app_bound_it_at_import(
    tmp_path: Path,
) -> None:
    stack_clock.advance(tmp_path, timedelta(days=3))
    pool = LambdaSandboxes(MODULE, 1, dict(os.environ), clock_file=stack_clock.path(tmp_path))
    try:
        assert pool.start(wait_s=60) == 1
        read = pool.handler(f"{MODULE}.now")
        ahead = datetime.fromisoformat(read({}, LambdaContext("fn-now"))) - datetime.now(UTC)
        assert timedelta(days=3) - timedelta(seconds=10) < ahead <= timedelta(days=3)
        # WHEN the clock moves again, the warm worker sees it at its next read
        stack_clock.advance(tmp_path, timedelta(hours=6))
        ahead = datetime.fromisoformat(read({}, LambdaContext("fn-now"))) - datetime.now(UTC)
        assert timedelta(days=3, hours=6) - timedelta(seconds=10) < ahead
        stack_clock.reset(tmp_path)
        ahead = datetime.fromisoformat(read({}, LambdaContext("fn-now"))) - datetime.now(UTC)
        assert abs(ahead) < timedelta(seconds=10)
    finally:
        pool.stop()


class Calls:
    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def handler(self, name: str) -> Any:
        def handle(event: dict[str, Any], context: Any) -> dict[str, str]:
            with self._lock:
                self.events.setdefault(name, []).append(event)
            return {"time": event["time"]}

        return handle


@pytest.fixture
def scheduler(tmp_path: Path) -> Any:
    calls = Calls()
    jobs = [
        ScheduledJob("health", "rate(1 minute)", calls.handler("health")),
        ScheduledJob("monthly", "cron(0 18 L * ? *)", calls.handler("monthly")),
        ScheduledJob("yearly", "cron(0 0 1 1 ? *)", calls.handler("yearly")),
    ]
    clock = StackClock(stack_clock.path(tmp_path))
    running = Scheduler(jobs, tmp_path, clock=clock.now, tick_s=0.02)
    running.start()
    try:
        yield running, calls
    finally:
        running.stop(timeout=2)


def test_an_advance_fires_each_skipped_schedule_once_then_each_runs_from_the_new_now(
    tmp_path: Path, scheduler: Any
) -> None:
    running, calls = scheduler
    # WHEN the clock moves 40 days ahead (40 * 1,440 health checks and a month's end skipped)
    answer = request_clock(tmp_path, "advance", 40 * 86400, timeout=10)
    # THEN every schedule whose time fell inside fired once, before the answer came back
    assert answer["ok"], answer
    fired = {f["name"]: f for f in answer["fired"]}
    assert set(fired) >= {"health", "monthly"}
    assert all(f["ok"] for f in fired.values())
    assert len(calls.events["health"]) == len(calls.events["monthly"]) == 1
    # as of the first time it skipped (a month's end: the run of the month that ended)
    before = running.clock() - timedelta(days=40)
    first = datetime.fromisoformat(fired["health"]["at"])
    assert before < first <= before + timedelta(minutes=1, seconds=10)
    assert calls.events["monthly"][0]["time"].endswith("T18:00:00Z")
    # AND each is planned from the new now: the next health check within the minute
    now = running.clock()
    assert now < running.next_fires["health"] <= now + timedelta(minutes=1)
    assert running.next_fires["monthly"] > now


def test_a_reset_plans_every_schedule_from_real_time_again(tmp_path: Path, scheduler: Any) -> None:
    running, _ = scheduler
    assert request_clock(tmp_path, "advance", 3 * 86400, timeout=10)["ok"]
    planned_ahead = running.next_fires["health"]
    # WHEN the clock is reset
    answer = request_clock(tmp_path, "reset", timeout=10)
    # THEN nothing fired and the next health check is within real time's next minute
    assert answer == {"ok": True, "fired": []}
    real = datetime.now(UTC)
    assert running.next_fires["health"] <= real + timedelta(minutes=1) < planned_ahead
    assert stack_clock.read_offset(tmp_path) == timedelta(0)


def test_a_bad_move_is_refused_by_the_scheduler_and_changes_nothing(
    tmp_path: Path, scheduler: Any
) -> None:
    answer = request_clock(tmp_path, "advance", -60, timeout=10)
    assert answer["ok"] is False and "only moves forward" in answer["error"]
    assert request_clock(tmp_path, "rewind", timeout=10)["ok"] is False
    assert stack_clock.read_offset(tmp_path) == timedelta(0)
