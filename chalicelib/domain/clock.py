"""Time in the city's terms: days and weeks are Asia/Seoul (DESIGN §5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def seoul_day(moment: datetime) -> date:
    return moment.astimezone(SEOUL).date()


def iso(moment: datetime) -> str:
    """RFC 3339 with offset, in Seoul time, to the second: what apps and robots show."""
    return moment.astimezone(SEOUL).isoformat(timespec="seconds")
