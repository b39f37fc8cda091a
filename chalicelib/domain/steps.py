"""Steps in the city's terms: a citizen's stored count for one Seoul day, and the periods
(day, ISO week) that boards and challenges count it in (DESIGN §5).

A day's stored count is the maximum ever accepted for it (invariant 4): every consumer of
the step stream applies a day's count as a maximum, so replayed or reordered records leave
the same result as one clean delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class StepDay:
    """What the step table holds for one citizen and day (and its stream carries)."""

    citizen_id: str
    day: date
    steps: int
    district: str
    """The citizen's district when the day was first synced: a day counts on one district's
    boards for good, even if the citizen moves later."""
    display_name: str


def week_of(day: date) -> str:
    """The ISO week (Monday first) a day belongs to: `2026-W48`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_days(day: date) -> tuple[date, date]:
    """Monday and Sunday of the ISO week that holds `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)
