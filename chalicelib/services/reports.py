"""Monthly reports written to the exports bucket on a schedule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from chalicelib.domain import reports
from chalicelib.domain.reports import CitizenMonthItems, ReportWritten
from chalicelib.domain.totals import month_shards


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

    def recycling_report(self, month: str) -> ReportWritten:
        """Write the month's report. The counters are kept from the ledger's stream as each
        credit lands, so the month's rows are read, not recomputed: one paged Query per
        partition. The file is a function of the rows alone: a re-run rewrites it as it was,
        or with the credits that landed since."""
        rows = [row for shard in month_shards(month) for row in self._months.month_rows(shard)]
        rows = [row for row in rows if row.total > 0]
        body = reports.report_csv(month, rows, reports.materials_of(rows, self._materials))
        key = reports.report_key(month)
        self._exports.put(key, body, "text/csv; charset=utf-8")
        return ReportWritten(month, key, len(rows), reports.totals_by_material(rows), len(body))
