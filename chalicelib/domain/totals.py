"""The city's running totals (GET /v1/admin/stats): what each ledger entry adds to them.

Kept from the ledger's stream, each entry counted once (invariant 1), so that
`issued == paid + held` can be checked against the balances (invariant 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chalicelib.domain.clock import seoul_day
from chalicelib.domain.ledger import LedgerEntry, earned_by, paid_by

ALL_TIME = "all"


@dataclass(frozen=True)
class TotalsChange:
    points_issued: int
    points_paid: int
    items_recycled: int
    entries: int = 1


@dataclass(frozen=True)
class Totals:
    period: str
    points_issued: int = 0
    points_paid: int = 0
    items_recycled: int = 0
    entries: int = 0

    @property
    def points_held(self) -> int:
        """Points issued and not paid: in balances or in pending payouts."""
        return self.points_issued - self.points_paid


@dataclass(frozen=True)
class Counted:
    """One ledger entry as the totals count it: its guard, the rows it counts in, its change."""

    guard_key: str
    periods: tuple[str, ...]
    change: TotalsChange


def counted(entry: LedgerEntry) -> Counted:
    return Counted(
        f"totals#{entry.citizen_id}#{entry.entry_id}", periods_of(entry), change_of(entry)
    )


def summed(entries: list[Counted]) -> dict[str, TotalsChange]:
    """What a batch adds to each row: one update per row, however many entries."""
    rows: dict[str, TotalsChange] = {}
    for entry in entries:
        for period in entry.periods:
            row = rows.get(period, TotalsChange(0, 0, 0, 0))
            rows[period] = TotalsChange(
                row.points_issued + entry.change.points_issued,
                row.points_paid + entry.change.points_paid,
                row.items_recycled + entry.change.items_recycled,
                row.entries + entry.change.entries,
            )
    return rows


def change_of(entry: LedgerEntry) -> TotalsChange:
    items = entry.detail.get("items_credited", 0) if entry.kind == "recycling" else 0
    return TotalsChange(
        points_issued=earned_by(entry.kind, entry.points),
        points_paid=paid_by(entry.kind, entry.points),
        items_recycled=int(items or 0),
    )


def day_period(day: date) -> str:
    return f"day#{day.isoformat()}"


def periods_of(entry: LedgerEntry) -> tuple[str, str]:
    """The rows an entry counts in: all time, and its Seoul day."""
    return ALL_TIME, day_period(seoul_day(entry.created_at))
