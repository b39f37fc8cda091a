"""Monthly reports: written to the exports bucket on a schedule, and read by finance."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain import reports
from chalicelib.domain.reports import CitizenMonthItems, DistrictTotals, ReportWritten
from chalicelib.domain.totals import month_shards


@dataclass(frozen=True)
class RecyclingTotals:
    month: str
    citizens: int
    items: dict[str, int]
    districts: list[DistrictTotals]


class MonthCounters(Protocol):
    def month_rows(self, shard: str) -> Iterator[CitizenMonthItems]:
        """Every citizen's row of one month's partition (paged Queries, never a scan)."""
        ...


class ReportExports(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...


class ReportService:
    def __init__(
        self, months: MonthCounters, exports: ReportExports, materials: Iterable[str]
    ) -> None:
        self._months = months
        self._exports = exports
        self._materials = tuple(materials)

    def month_rows(self, month: str) -> list[CitizenMonthItems]:
        """The month's citizens who recycled: one paged Query per partition."""
        rows = [row for shard in month_shards(month) for row in self._months.month_rows(shard)]
        return [row for row in rows if row.total > 0]

    def recycling_csv(self, month: str) -> bytes:
        """The per-citizen file as the schedule writes it, built now (a month still open
        holds the credits counted so far)."""
        rows = self.month_rows(month)
        return reports.report_csv(month, rows, reports.materials_of(rows, self._materials))

    def recycling_totals(self, month: str) -> RecyclingTotals:
        rows = self.month_rows(month)
        return RecyclingTotals(
            month,
            len(rows),
            reports.totals_by_material(rows),
            reports.totals_by_district(rows),
        )

    def recycling_report(self, month: str) -> ReportWritten:
        """Write the month's report. The counters are kept from the ledger's stream as each
        credit lands, so the month's rows are read, not recomputed: one paged Query per
        partition. The file is a function of the rows alone: a re-run rewrites it as it was,
        or with the credits that landed since."""
        rows = self.month_rows(month)
        body = reports.report_csv(month, rows, reports.materials_of(rows, self._materials))
        key = reports.report_key(month)
        self._exports.put(key, body, "text/csv; charset=utf-8")
        return ReportWritten(month, key, len(rows), reports.totals_by_material(rows), len(body))
