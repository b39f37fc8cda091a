"""The KPIs' schedule: a thin handler over chalicelib.services.kpis."""

from __future__ import annotations

from typing import Any

from chalicelib import wiring
from chalicelib.events.schedules import event_time


def scheduled_kpis(event: Any) -> dict[str, Any]:
    """Today's day, week and month (and, just after a Seoul midnight, yesterday's): a
    repeated or retried fire rewrites the same items with newer figures."""
    computed = wiring.kpis().refresh(event_time(event))
    wiring.count("KpisComputed", computed.kpis)
    return {"periods": computed.periods, "kpis": computed.kpis}
