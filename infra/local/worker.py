"""The background thread every local event source and the scheduler run in."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


class Worker:
    """A daemon thread running ``_run`` until ``stop()``."""

    thread_name = "event-source"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_safely, name=self.thread_name, daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the loop to end, without waiting for it (`stop()` waits)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("%s did not stop within %.1fs", self.thread_name, timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_safely(self) -> None:
        try:
            self._run()
        except Exception:  # pragma: no cover - last resort, the loops catch their own
            logger.exception("%s crashed", self.thread_name)

    def _run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError
