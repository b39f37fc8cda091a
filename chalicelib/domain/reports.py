"""The monthly recycling report: each citizen's items credited in a Seoul month, by
material, for the national carbon-neutral points programme (the feed recycling operators
send each month)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

COLUMNS_BEFORE = ("month", "citizen_id", "district")
UNKNOWN_DISTRICT = "unknown"
"""The district of a row counted before rows carried one."""
COLUMNS_AFTER = ("items_total",)
# A spreadsheet runs a cell that starts like a formula: such a value is written quoted
# behind an apostrophe (OWASP's advice for CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CitizenMonthItems:
    citizen_id: str
    items: Mapping[str, int]
    """Items credited by material (after the daily limit)."""
    district: str | None = None
    """The citizen's district when their latest credit of the month was counted."""

    @property
    def total(self) -> int:
        return sum(self.items.values())


@dataclass(frozen=True)
class ReportWritten:
    month: str
    key: str
    citizens: int
    items: Mapping[str, int]
    bytes: int


def report_key(month: str) -> str:
    """One object per month: a re-run of the month rewrites the same file."""
    return f"recycling-reports/{month}/citizens.csv"


def materials_of(rows: Iterable[CitizenMonthItems], known: Iterable[str]) -> list[str]:
    """The material columns: every material the city pays for, then any other found, sorted
    (so two runs over the same rows write the same header)."""
    found = {m for row in rows for m in row.items}
    return sorted(set(known) | found)


def report_csv(month: str, rows: list[CitizenMonthItems], materials: list[str]) -> bytes:
    """UTF-8 with a BOM (Excel in Korea reads it right), CRLF line ends, one row per citizen
    who recycled in the month, sorted by citizen id, so the same month writes the same bytes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((*COLUMNS_BEFORE, *materials, *COLUMNS_AFTER))
    for row in sorted(rows, key=lambda r: r.citizen_id):
        writer.writerow(
            (
                month,
                _cell(row.citizen_id),
                _cell(row.district or ""),
                *(row.items.get(m, 0) for m in materials),
                row.total,
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def totals_by_material(rows: Iterable[CitizenMonthItems]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        for material, items in row.items.items():
            out[material] = out.get(material, 0) + items
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class DistrictTotals:
    district: str
    citizens: int
    items: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.items.values())


def totals_by_district(rows: Iterable[CitizenMonthItems]) -> list[DistrictTotals]:
    """Each district's citizens who recycled and their items by material, by district code
    (rows without a district count under `unknown`)."""
    citizens: dict[str, int] = {}
    items: dict[str, dict[str, int]] = {}
    for row in rows:
        district = row.district or UNKNOWN_DISTRICT
        citizens[district] = citizens.get(district, 0) + 1
        by_material = items.setdefault(district, {})
        for material, count in row.items.items():
            by_material[material] = by_material.get(material, 0) + count
    return [
        DistrictTotals(d, citizens[d], dict(sorted(items[d].items()))) for d in sorted(citizens)
    ]
