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
    name_version: int | None = None
    """The profile version the name was read at (None on days stored before versions):
    boards keep the name of the newest version, in any delivery order."""


@dataclass(frozen=True)
class Walker:
    """What a synced day records about its citizen: where it counts, and the name boards show."""

    district: str
    display_name: str
    name_version: int | None = None
    closed: bool = False
    """The account was closed (chalicelib.domain.closing): nothing more is synced."""


def week_of(day: date) -> str:
    """The ISO week (Monday first) a day belongs to: `2026-W48`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_days(day: date) -> tuple[date, date]:
    """Monday and Sunday of the ISO week that holds `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


@dataclass(frozen=True)
class DaySteps:
    """One day of a sync request, as the app sent it (its date not yet judged)."""

    date: str
    steps: int


@dataclass(frozen=True)
class BadDay:
    date: str
    problem: str


def judge_sync(
    days: list[DaySteps], today: date, days_back: int, max_steps: int
) -> tuple[dict[date, int], list[BadDay]]:
    """The whole request judged before anything is stored: the accepted days, and every bad
    day with its problem (a request with any bad day stores nothing).

    A day is bad when it is not a real `YYYY-MM-DD` date, in the future, more than
    `days_back` days old, given twice, or its count is negative or above `max_steps`.
    """
    accepted: dict[date, int] = {}
    bad: list[BadDay] = []
    seen: set[str] = set()
    oldest = today - timedelta(days=days_back)
    for entry in days:
        problem = _problem(entry, today, oldest, max_steps, seen)
        seen.add(entry.date)
        if problem:
            bad.append(BadDay(entry.date, problem))
        else:
            accepted[date.fromisoformat(entry.date)] = entry.steps
    return accepted, bad


def _problem(
    entry: DaySteps, today: date, oldest: date, max_steps: int, seen: set[str]
) -> str | None:
    day = parse_day(entry.date)
    if day is None:
        return "not a date (YYYY-MM-DD)"
    if entry.date in seen:
        return "given more than once"
    if day > today:
        return "in the future"
    if day < oldest:
        return f"older than {(today - oldest).days} days"
    if entry.steps < 0:
        return "negative steps"
    if entry.steps > max_steps:
        return f"more than {max_steps} steps"
    return None


def parse_day(text: str) -> date | None:
    """A calendar day written exactly `YYYY-MM-DD` in ASCII digits, else None.
    (`date.fromisoformat` alone also takes `20261125` and other ISO forms.)"""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    if not all(c in "0123456789" for c in text[:4] + text[5:7] + text[8:]):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
