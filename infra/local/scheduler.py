"""The local scheduler: fires ``rate(...)`` / ``cron(...)`` schedules (UTC, EventBridge
semantics) and lets another process fire a schedule now through files under
``<state_dir>/fire/`` (:func:`request_fire`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.local.lambda_runtime import DEFAULT_ACCOUNT_ID, Handler, LambdaContext
from infra.local.schedule_expressions import next_fire, parse_rate, validate_expression
from infra.local.worker import Worker

logger = logging.getLogger(__name__)

CLOCK_BACK_TOLERANCE = timedelta(seconds=1)
"""A clock that goes back more than this (the test clock's reset) replans every job."""


@dataclass
class ScheduledJob:
    """A schedule: ``name`` (the Chalice function name, e.g. "payout"), the expression,
    the handler and, optionally, the deployed function/rule name (``<app>-dev-<name>``)."""

    name: str
    expression: str
    handler: Handler
    function_name: str | None = None


class UnknownScheduleError(KeyError):
    """No schedule of that name; ``str()`` gives a readable message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown schedule"


def _fire_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "fire"


def _atomic_write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Scheduler(Worker):
    """Fires scheduled jobs at their times (UTC) and on request.

    Every ``tick_s`` the thread fires the jobs that are due and answers fire requests
    written under ``<state_dir>/fire/`` by :func:`request_fire`. Jobs run in the scheduler
    thread, one at a time; an error is logged and reported, never stops the scheduler.
    Missed fires (the machine slept) fire once, then the schedule resumes.
    """

    thread_name = "scheduler"
    HEARTBEAT = "scheduler.json"

    def __init__(
        self,
        jobs: Iterable[ScheduledJob],
        state_dir: Path,
        *,
        region: str = "ap-northeast-2",
        account_id: str = DEFAULT_ACCOUNT_ID,
        clock: Callable[[], datetime] | None = None,
        tick_s: float = 0.2,
    ) -> None:
        super().__init__()
        self.jobs: dict[str, ScheduledJob] = {}
        for job in jobs:
            validate_expression(job.expression)
            if job.name in self.jobs:
                raise ValueError(f"duplicate schedule name {job.name!r}")
            self.jobs[job.name] = job
        self.state_dir = Path(state_dir)
        self.region = region
        self.account_id = account_id
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tick_s = tick_s
        self.next_fires: dict[str, datetime] = {}
        self.fired: dict[str, int] = dict.fromkeys(self.jobs, 0)
        self.errors: dict[str, int] = dict.fromkeys(self.jobs, 0)
        self._lock = threading.Lock()
        self._last_now: datetime | None = None
        self._answerers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}

    def answer(self, kind: str, answerer: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Requests naming `kind` (``{kind: ..., ...}``, written by :func:`request`) are
        answered by `answerer` in this thread: the channel another process reaches the
        running stack by (the stream consumers' `streams` command uses it)."""
        self._answerers[kind] = answerer

    # -- lookups and events -------------------------------------------------------------

    def _job(self, name: str) -> ScheduledJob:
        job = self.jobs.get(name)
        if job is None:
            job = next((j for j in self.jobs.values() if j.function_name == name), None)
        if job is None:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise UnknownScheduleError(f"unknown schedule {name!r}; known: {known}")
        return job

    def _now(self) -> datetime:
        now = self.clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def scheduled_event(self, job: ScheduledJob, when: datetime) -> dict[str, Any]:
        rule = job.function_name or job.name
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{self.account_id}:rule/{rule}"],
            "detail": {},
        }

    def _run_job(self, job: ScheduledJob, when: datetime) -> dict[str, Any]:
        event = self.scheduled_event(job, when)
        context = LambdaContext(
            job.function_name or job.name, region=self.region, account_id=self.account_id
        )
        try:
            with self._lock:
                result = job.handler(event, context)
        except Exception as exc:
            self.errors[job.name] += 1
            logger.exception("schedule %s failed", job.name)
            return {"name": job.name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            self.fired[job.name] += 1
        try:
            json.dumps(result)
        except (TypeError, ValueError):
            result = repr(result)
        return {"name": job.name, "ok": True, "result": result}

    def fire_now(self, name: str) -> dict[str, Any]:
        """Run a job now, synchronously, in the caller's thread.

        Returns ``{"name", "ok", "result"}`` or ``{"name", "ok": False, "error"}``;
        raises UnknownScheduleError for an unknown name.
        """
        return self._run_job(self._job(name), self._now())

    # -- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        fire_dir = _fire_dir(self.state_dir)
        fire_dir.mkdir(parents=True, exist_ok=True)
        now = self._now()
        self.next_fires = {n: next_fire(j.expression, now) for n, j in self.jobs.items()}
        self._last_now = now
        _atomic_write_json(
            fire_dir / self.HEARTBEAT,
            {"pid": os.getpid(), "jobs": sorted(self.jobs), "started": now.isoformat()},
        )
        super().start()

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        with contextlib.suppress(OSError):
            hb = _fire_dir(self.state_dir) / self.HEARTBEAT
            if json.loads(hb.read_text()).get("pid") == os.getpid():
                hb.unlink()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                logger.exception("scheduler tick failed")
            self._stop.wait(self.tick_s)

    def tick(self) -> None:
        """Fire the due jobs and answer the pending fire requests (one pass)."""
        self._fire_due()
        self._answer_requests()

    def _fire_due(self) -> list[dict[str, Any]]:
        """Fire each job whose time has come, once (however many of its times passed: a
        machine asleep, or the test clock moved forward), then plan it from now on."""
        now = self._now()
        if self._last_now is not None and now < self._last_now - CLOCK_BACK_TOLERANCE:
            # The clock went back (the test clock's reset): plan every job from this now,
            # or none would fire until real time caught up with the times planned ahead.
            self.next_fires = {n: next_fire(j.expression, now) for n, j in self.jobs.items()}
        self._last_now = now
        fired: list[dict[str, Any]] = []
        for name, due in sorted(self.next_fires.items(), key=lambda kv: kv[1]):
            if due > now:
                continue
            job = self.jobs[name]
            outcome = self._run_job(job, due)
            if not outcome["ok"]:
                logger.warning("schedule %s at %s: %s", name, due.isoformat(), outcome["error"])
            fired.append({**outcome, "at": due.isoformat(timespec="seconds")})
            self.next_fires[name] = self._following(job, due, self._now())
            self._last_now = max(self._last_now, self._now())
        return fired

    @staticmethod
    def _following(job: ScheduledJob, due: datetime, now: datetime) -> datetime:
        period = parse_rate(job.expression)
        if period is None:
            return next_fire(job.expression, max(due, now))
        nxt = due + period
        if nxt <= now:  # missed some: keep the phase, skip the missed ones
            nxt += period * ((now - nxt) // period + 1)
        return nxt

    def _move_clock(self, request: dict[str, Any]) -> dict[str, Any]:
        """Move the stack's test clock (infra/local/stack_clock.py) here, between two passes
        of this thread, and fire at once, once each, the jobs whose times it skipped."""
        from infra.local import stack_clock

        try:
            if request["clock"] == "advance":
                stack_clock.advance(self.state_dir, timedelta(seconds=int(request["by_s"])))
            elif request["clock"] == "reset":
                stack_clock.reset(self.state_dir)
            else:
                raise stack_clock.ClockError(f"unknown clock move {request['clock']!r}")
        except (stack_clock.ClockError, KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "fired": self._fire_due()}

    def _answer_requests(self) -> None:
        fire_dir = _fire_dir(self.state_dir)
        try:
            requests = sorted(fire_dir.glob("*.request.json"), key=lambda p: p.stat().st_mtime)
        except OSError:
            return
        for path in requests:
            request_id = path.name[: -len(".request.json")]
            try:
                request = json.loads(path.read_text())
                kind = next((k for k in self._answerers if k in request), None)
                name = request.get("name") if "clock" in request or kind else request["name"]
            except FileNotFoundError:
                continue  # the requester gave up
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                answer: dict[str, Any] = {"name": None, "ok": False, "error": f"bad request: {exc}"}
            else:
                if kind is not None:
                    try:
                        answer = self._answerers[kind](request)
                    except Exception as exc:  # reported to the requester, never stops the thread
                        logger.exception("answering a %s request failed", kind)
                        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                elif "clock" in request:
                    answer = self._move_clock(request)
                else:
                    try:
                        answer = self.fire_now(str(name))
                    except UnknownScheduleError as exc:
                        answer = {"name": name, "ok": False, "error": str(exc), "unknown": True}
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            _atomic_write_json(fire_dir / f"{request_id}.result.json", answer)


def scheduler_running(state_dir: Path) -> bool:
    """A live scheduler serves `state_dir` (its heartbeat names a live process)."""
    heartbeat = _fire_dir(Path(state_dir)) / Scheduler.HEARTBEAT
    try:
        pid = int(json.loads(heartbeat.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return _pid_alive(pid)


def request_fire(state_dir: Path, name: str, timeout: float = 30) -> dict[str, Any]:
    """Ask the running stack's scheduler to fire ``name`` now; wait for its answer.

    Returns ``{"name", "ok", "result"|"error"}``. Raises TimeoutError if no scheduler runs
    for ``state_dir`` or none answers in time, UnknownScheduleError (a KeyError) if the
    scheduler knows no such schedule.
    """
    answer = _request(state_dir, {"name": name}, timeout, f"schedule {name!r}")
    if answer.get("unknown"):
        raise UnknownScheduleError(answer.get("error") or f"unknown schedule {name!r}")
    answer.pop("unknown", None)
    return answer


def request_clock(
    state_dir: Path, move: str, by_s: int | None = None, timeout: float = 120
) -> dict[str, Any]:
    """Ask the running stack's scheduler to move the test clock (``advance`` by ``by_s``
    seconds, or ``reset``) and fire the schedules whose times it skipped. Returns
    ``{"ok", "fired": [{"name", "at", "ok", "result"|"error"}...]}`` or ``{"ok": False,
    "error"}``; TimeoutError as :func:`request_fire`."""
    return _request(state_dir, {"clock": move, "by_s": by_s}, timeout, "the clock's move")


def request(state_dir: Path, payload: dict[str, Any], timeout: float, what: str) -> dict[str, Any]:
    """Ask the running stack's scheduler thread (a request one of its :meth:`Scheduler.answer`
    answerers takes); its answer. TimeoutError as :func:`request_fire`."""
    return _request(state_dir, payload, timeout, what)


def _request(state_dir: Path, payload: dict[str, Any], timeout: float, what: str) -> dict[str, Any]:
    fire_dir = _fire_dir(Path(state_dir))
    if not scheduler_running(state_dir):
        raise TimeoutError(
            f"no scheduler is running for state dir {state_dir} (no live "
            f"{fire_dir / Scheduler.HEARTBEAT}); start the local stack first: "
            "python -m infra.local up"
        )
    request_id = uuid.uuid4().hex
    request = fire_dir / f"{request_id}.request.json"
    result = fire_dir / f"{request_id}.result.json"
    _atomic_write_json(request, payload)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result.exists():
            answer: dict[str, Any] = json.loads(result.read_text())
            with contextlib.suppress(FileNotFoundError):
                result.unlink()
            return answer
        time.sleep(0.05)
    picked_up = not request.exists()
    with contextlib.suppress(FileNotFoundError):
        request.unlink()
    if picked_up:
        raise TimeoutError(f"{what} was started but did not finish within {timeout}s")
    raise TimeoutError(
        f"the scheduler for state dir {state_dir} did not pick up the request within "
        f"{timeout}s; is the local stack running (python -m infra.local up)?"
    )
