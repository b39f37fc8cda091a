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
