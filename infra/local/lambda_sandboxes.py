"""Lambda execution environments for the local stack: the event sources' handlers run in
worker processes, as in AWS each invocation runs in a container of its own.

In the stack's own process, handlers would share one interpreter (and its GIL) with the
AWS emulator, the rules engine and the broker bridge: on the 2-core development machine
that process then caps the whole stack near one core. Here every worker process imports
the app once (its cold start) and then serves invocations one at a time, like a warm
Lambda container; the event sources hand each batch to whichever worker is free.

A handler's exception comes back as itself (with the worker's traceback as its cause), so
the event sources treat it exactly as an exception raised in-process; one that could not be
rebuilt on the way back arrives as a :class:`HandlerError` with its type, text and trace.
A worker that dies mid-invocation fails its invocation (its batch is retried, as after a
Lambda crash) and the pool is rebuilt for the next one; the pool breaks as a whole, so the
other workers' invocations in flight then fail and are retried too. A worker whose stack
was killed exits with it.

Workers are started with multiprocessing's "spawn" (a fork of a threaded process is not
safe), which runs the parent's `__main__` file again in each: a script that starts the stack
in-process needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from infra.local.lambda_runtime import Handler

logger = logging.getLogger(__name__)

_module: Any = None  # the app module, in a worker process


class HandlerError(Exception):
    """A handler's exception that cannot cross back to the stack as itself (its class needs
    more than a message to be rebuilt, or it holds tracebacks): its type, text and trace."""


def _start_worker(
    module_name: str, environment: dict[str, str], started: Any, clock_file: str | None = None
) -> None:
    """A worker's cold start: the stack's environment and test clock, then the app's
    import."""
    global _module
    # Ctrl-C reaches the whole process group; the stack stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    os.environ.clear()
    os.environ.update(environment)
    if clock_file is not None:
        from infra.local import stack_clock

        stack_clock.install(Path(clock_file))  # before the app binds its clock
    _module = importlib.import_module(module_name)
    started.release()


def exit_with_parent() -> None:
    """A worker whose stack was killed (SIGKILL: no shutdown) ends too, instead of waiting
    for work forever with the stack's output still open."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _invoke(attr: str, event: dict[str, Any], context: Any) -> Any:
    try:
        return getattr(_module, attr)(event, context)
    except Exception as e:
        try:
            pickle.loads(pickle.dumps(e))  # what the pool will do with it
        except Exception:
            trace = "".join(traceback.format_exception(e))
            raise HandlerError(f"{type(e).__qualname__}: {e}\n{trace}") from None
        raise


def _nothing() -> None:
    return None


class LambdaSandboxes:
    """Up to ``workers`` processes, each with ``module_name`` imported, running handlers.

    ``environment`` is what every worker sees (default: this process's at ``start()``);
    ``clock_file``: the stack's test clock (infra/local/stack_clock.py), installed in each
    worker before it imports the app.
    """

    def __init__(
        self,
        module_name: str,
        workers: int,
        environment: dict[str, str] | None = None,
        clock_file: Path | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.module_name = module_name
        self.workers = workers
        self._environment = environment
        self._clock_file = None if clock_file is None else str(clock_file)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._started = self._context.Semaphore(0)  # released by each worker once warm

    def start(self, *, wait_s: float = 0.0) -> int:
        """Start every worker (each imports the app in the background); wait up to
        ``wait_s`` for them to be warm. Returns how many are."""
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool()
            pool = self._pool
        # The pool starts a process for each call that finds no idle worker.
        for _ in range(self.workers):
            pool.submit(_nothing)
        warm = 0
        deadline = time.monotonic() + wait_s
        while warm < self.workers and self._started.acquire(
            timeout=max(0.0, deadline - time.monotonic())
        ):
            warm += 1
        return warm

    def _new_pool(self) -> ProcessPoolExecutor:
        environment = dict(self._environment if self._environment is not None else os.environ)
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_start_worker,
            initargs=(self.module_name, environment, self._started, self._clock_file),
        )

    def handler(self, handler_string: str) -> Handler:
        """A callable like the app's handler ``handler_string``, run in a worker."""
        attr = handler_string.rsplit(".", 1)[-1]

        def invoke(event: dict[str, Any], context: Any) -> Any:
            pool = self._running_pool()
            try:
                return pool.submit(_invoke, attr, event, context).result()
            except BrokenProcessPool:
                self._replace(pool)
                raise

        invoke.__qualname__ = f"sandboxed {attr}"
        return invoke

    def _running_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                raise RuntimeError("the Lambda sandboxes are not running")
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                logger.error("a Lambda worker process died; starting new workers")
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()

    def pids(self) -> list[int]:
        """The worker processes' ids (for measuring what they use)."""
        with self._lock:
            processes = getattr(self._pool, "_processes", None) or {}
            return sorted(processes)

    def stop(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
