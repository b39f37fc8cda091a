"""What the scheduled entry points share: the moment a schedule fired, and who they say
started what they start."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain import clock

SCHEDULE = "schedule"
"""Who started a scheduled run or audit, where an admin's id would be."""


def event_time(event: Any) -> datetime:
    """When the schedule fired (its event's `time`), or now if the event does not say."""
    raw = getattr(event, "time", None) or (event.to_dict() or {}).get("time")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return clock.utc_now()
