"""Handlers for tests/emulator/test_lambda_sandboxes.py, imported by each worker process."""

from __future__ import annotations

import os
import time
from typing import Any

from chalicelib.domain.clock import utc_now as _utc_now  # bound at import, as app modules do


class HandlerFailed(Exception):
    """Raised by `fail`; comes back to the caller as itself."""


def where(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(event.get("hold_s", 0))
    return {
        "pid": os.getpid(),
        "event": event,
        "setting": os.environ.get("SANDBOX_SETTING"),
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def fail(event: dict[str, Any], context: Any) -> None:
    raise HandlerFailed(f"bad batch {event['batch']}")


def crash(event: dict[str, Any], context: Any) -> None:
    os._exit(3)  # the container dies mid-invocation


class Refused(Exception):
    """Like the domain's errors: rebuilt from more than a message, so unpickling it fails."""

    def __init__(self, reason: str, details: dict[str, Any]) -> None:
        super().__init__(f"{reason}: {details}")
        self.reason = reason


def refuse(event: dict[str, Any], context: Any) -> None:
    raise Refused("over_limit", {"items": event["items"]})


def now(event: dict[str, Any], context: Any) -> str:
    """The app's now, as a handler reads it (bound at import, as app modules do)."""
    return _utc_now().isoformat()
