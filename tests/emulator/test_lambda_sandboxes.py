"""The local stack's Lambda worker processes (infra/local/lambda_sandboxes.py): handlers run
out of the stack's process, with its environment, and fail the way in-process ones do."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from infra.local.lambda_runtime import LambdaContext
from infra.local.lambda_sandboxes import HandlerError, LambdaSandboxes
from tests.emulator.killed_stack import children_of_a_killed_stack, still_running
from tests.emulator.sandboxed_handlers import HandlerFailed

MODULE = "tests.emulator.sandboxed_handlers"


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[LambdaSandboxes]:
    pool = LambdaSandboxes(MODULE, 2, {**os.environ, "SANDBOX_SETTING": "from the stack"})
    assert pool.start(wait_s=60) == 2  # both workers warm: the app imported in each
    yield pool
    pool.stop()


def test_a_handler_runs_in_a_worker_process_with_the_stacks_environment(
    sandboxes: LambdaSandboxes,
) -> None:
    result = sandboxes.handler(f"{MODULE}.where")(
        {"Records": [{"n": 1}]}, LambdaContext("fn-where", timeout_s=30)
    )
    assert result["pid"] != os.getpid()
    assert result["event"] == {"Records": [{"n": 1}]}
    assert result["setting"] == "from the stack"
    assert result["function_name"] == "fn-where"
    assert 0 < result["remaining_ms"] <= 30_000  # the deadline holds across processes


def test_invocations_at_once_are_spread_over_the_workers(sandboxes: LambdaSandboxes) -> None:
    from concurrent.futures import ThreadPoolExecutor

    handler = sandboxes.handler(f"{MODULE}.where")
    with ThreadPoolExecutor(8) as threads:
        pids = set(
            threads.map(lambda n: handler({"hold_s": 0.05}, LambdaContext("f"))["pid"], range(40))
        )
    assert len(pids) == 2


def test_a_handlers_exception_comes_back_as_itself(sandboxes: LambdaSandboxes) -> None:
    with pytest.raises(HandlerFailed, match="bad batch 7"):
        sandboxes.handler(f"{MODULE}.fail")({"batch": 7}, LambdaContext("fn-fail"))


def test_a_dead_worker_fails_its_invocation_and_new_workers_serve_the_next() -> None:
    pool = LambdaSandboxes(MODULE, 1)
    pool.start()
    try:
        with pytest.raises(BrokenProcessPool):
            pool.handler(f"{MODULE}.crash")({}, LambdaContext("fn-crash"))
        after = pool.handler(f"{MODULE}.where")({"n": 2}, LambdaContext("fn-where"))
        assert after["event"] == {"n": 2}
    finally:
        pool.stop()


def test_a_stopped_pool_refuses_invocations() -> None:
    pool = LambdaSandboxes(MODULE, 1)
    pool.start()
    pool.stop()
    with pytest.raises(RuntimeError, match="not running"):
        pool.handler(f"{MODULE}.where")({}, LambdaContext("f"))


def test_at_least_one_worker() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LambdaSandboxes(MODULE, 0)


def test_an_exception_that_cannot_be_rebuilt_comes_back_as_a_handler_error_and_breaks_nothing(
    sandboxes: LambdaSandboxes,
) -> None:
    before = sandboxes.pids()
    with pytest.raises(HandlerError, match=r"Refused: over_limit: \{'items': 3\}"):
        sandboxes.handler(f"{MODULE}.refuse")({"items": 3}, LambdaContext("fn-refuse"))
    assert sandboxes.handler(f"{MODULE}.where")({}, LambdaContext("f"))["event"] == {}
    assert sandboxes.pids() == before  # the same workers: the pool did not break


def test_workers_exit_when_their_stack_is_killed(tmp_path: Path) -> None:
    started = f"""
from infra.local.lambda_sandboxes import LambdaSandboxes
pool = LambdaSandboxes({MODULE!r}, 2)
pool.start(wait_s=60)
print(*pool.pids(), flush=True)
"""
    pids = children_of_a_killed_stack(tmp_path, started)
    assert len(pids) == 2
    assert not still_running(pids)
