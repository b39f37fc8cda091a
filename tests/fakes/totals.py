"""The city's totals in memory."""

from __future__ import annotations

from chalicelib.domain.totals import Counted, Totals, summed


class MemoryTotals:
    def __init__(self) -> None:
        self.rows: dict[str, Totals] = {}
        self.counted: set[str] = set()

    def add_once(self, entries: list[Counted]) -> int:
        fresh = {e.guard_key: e for e in entries if e.guard_key not in self.counted}
        self.counted.update(fresh)
        for period, change in summed(list(fresh.values())).items():
            row = self.rows.get(period, Totals(period))
            self.rows[period] = Totals(
                period,
                row.points_issued + change.points_issued,
                row.points_paid + change.points_paid,
                row.items_recycled + change.items_recycled,
                row.entries + change.entries,
                materials={
                    m: row.materials.get(m, 0) + dict(change.materials).get(m, 0)
                    for m in {*row.materials, *dict(change.materials)}
                },
            )
        return len(fresh)

    def read(self, periods: tuple[str, ...]) -> dict[str, Totals]:
        return {p: self.rows[p] for p in periods if p in self.rows}
