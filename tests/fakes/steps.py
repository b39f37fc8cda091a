"""Step days in memory."""

from __future__ import annotations

from datetime import date, datetime

from chalicelib.domain.steps import Walker


class MemorySteps:
    """Step days and who walks them, kept like the step table: a day's count only goes up."""

    def __init__(self) -> None:
        self.walkers: dict[str, Walker] = {}
        self.days: dict[tuple[str, date], int] = {}
        self.writes = 0

    def current(self, citizen_id: str, days: list[date]) -> tuple[Walker | None, dict[date, int]]:
        stored = {d: self.days[(citizen_id, d)] for d in days if (citizen_id, d) in self.days}
        return self.walkers.get(citizen_id), stored

    def raise_to(
        self, citizen_id: str, day: date, steps: int, walker: Walker, now: datetime
    ) -> int:
        self.writes += 1
        key = (citizen_id, day)
        self.days[key] = max(self.days.get(key, -1), steps)
        return self.days[key]

    def between(self, citizen_id: str, first: date, last: date) -> dict[date, int]:
        return {d: n for (c, d), n in self.days.items() if c == citizen_id and first <= d <= last}
