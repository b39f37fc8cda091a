"""Walking: a citizen's step sync (DESIGN §4 `PUT /v1/me/steps`, §5 sync window) and their
day and week totals. Boards and challenges follow the step table's stream elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from chalicelib import config
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.closing import account_closed
from chalicelib.domain.steps import DaySteps, Walker, judge_sync, week_days
from chalicelib.errors import BadRequest, NotFound, Unprocessable


class StepStore(Protocol):
    def current(self, citizen_id: str, days: list[date]) -> tuple[Walker | None, dict[date, int]]:
        """The citizen (None: not registered) and the stored counts of those days, in one read."""
        ...

    def raise_to(
        self, citizen_id: str, day: date, steps: int, walker: Walker, now: datetime
    ) -> int:
        """Store `steps` if above the stored count (a conditional write); the stored count."""
        ...

    def between(self, citizen_id: str, first: date, last: date) -> dict[date, int]: ...


@dataclass(frozen=True)
class StepTotals:
    today: int
    week: int


class StepService:
    def __init__(self, store: StepStore, settings: config.Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    def sync(self, citizen_id: str, days: list[DaySteps]) -> dict[date, int]:
        """Judge the whole request, then raise each day that went up; answer the stored counts.

        A resend with nothing higher costs one read and no write.
        """
        s = self._settings
        limit = s.step_sync_days_back + 1
        if not days:
            raise BadRequest("give at least one day", code="no_days")
        if len(days) > limit:
            raise Unprocessable(f"at most {limit} days per sync", code="too_many_days", details=[])
        now = self._clock()
        accepted, bad = judge_sync(days, seoul_day(now), s.step_sync_days_back, s.max_steps_per_day)
        if bad:
            raise Unprocessable(
                "some days cannot be accepted; nothing was stored",
                code="invalid_days",
                details=[{"date": b.date, "problem": b.problem} for b in bad],
            )
        walker, stored = self._store.current(citizen_id, sorted(accepted))
        if walker is None:
            raise NotFound("register first with PUT /v1/me", code="not_registered")
        if walker.closed:
            raise account_closed()
        for day, steps in sorted(accepted.items()):
            if steps > stored.get(day, -1):
                stored[day] = self._store.raise_to(citizen_id, day, steps, walker, now)
        return {day: stored[day] for day in sorted(accepted)}

    def totals(self, citizen_id: str) -> StepTotals:
        """Today's count and this ISO week's sum (Monday first, Seoul), read in one query."""
        today = seoul_day(self._clock())
        monday, sunday = week_days(today)
        week = self._store.between(citizen_id, monday, sunday)
        return StepTotals(week.get(today, 0), sum(week.values()))
