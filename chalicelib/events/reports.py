"""Scheduled reports: thin handlers over chalicelib.services.reports."""

from __future__ import annotations

from typing import Any

from chalicelib import wiring
from chalicelib.events.schedules import event_time


def scheduled_recycling_report(event: Any) -> dict[str, Any]:
    """The month that just ended in Seoul (the schedule fires on the 1st, an hour after the
    payout run). A retried or repeated fire rewrites the same file."""
    from chalicelib.domain.payout_runs import scheduled_period

    month = str(scheduled_period(event_time(event)))
    written = wiring.reports().recycling_report(month)
    wiring.count("RecyclingReportCitizens", written.citizens)
    return {
        "month": written.month,
        "key": written.key,
        "citizens": written.citizens,
        "items_by_material": dict(written.items),
        "bytes": written.bytes,
    }
