"""The city's running totals (GET /v1/admin/stats): what each ledger entry adds to them.

Kept from the ledger's stream, each entry counted once (invariant 1), so that
`issued == paid + held + pending` can be checked against the balances and the payout runs
(invariant 3). Three writers keep separate rows, so none of them contends with another:
- the ledger's stream: `all` and `day#<day>` (issued, debited for payouts net of reversals,
  items by material) and each citizen's month row for the recycling report;
- a payout settlement, in the transaction that marks items paid: `settled#all`,
  `settled#day#<day>` (points whose transfer the bank confirmed);
- the step boards' handler, in the transaction that moves the boards: `steps#all`,
  `steps#day#<day>` (the increase of every stored step day).

What the stats answer is derived from them: paid is what was settled paid, pending is what
was debited for payouts and neither settled paid nor credited back, held is what was issued
and not debited (the sum of the balances).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.domain.clock import seoul_day
from chalicelib.domain.ledger import LedgerEntry, earned_by, forfeited_by, paid_by

ALL_TIME = "all"
SETTLED = "settled#"
STEPS = "steps#"
WALKERS = "walkers#"
# A material is a robot's word (`can`, `pet`): it names a counter attribute, so only this
# shape ever does (the deposit contract's own pattern).
MATERIAL = re.compile(r"[a-z][a-z0-9_]{0,31}")  # fullmatch: `$` lets "\n" in
# The report's rows of a month are spread over this many partitions (`2026-11#3`), so a busy
# month's writes never meet on one partition key; the report reads each with a Query.
MONTH_SHARDS = 10


@dataclass(frozen=True)
class TotalsChange:
    points_issued: int
    points_paid: int
    items_recycled: int
    entries: int = 1
    materials: tuple[tuple[str, int], ...] = ()
    """Items credited by material, in the order the deposit listed them."""
    points_forfeited: int = 0
    """Given up by accounts closed with points left (docs/account-closing.md)."""


@dataclass(frozen=True)
class Totals:
    period: str
    points_issued: int = 0
    points_paid: int = 0
    """Debited for payouts, net of reversals: paid out or pending in a run."""
    items_recycled: int = 0
    entries: int = 0
    materials: Mapping[str, int] = field(default_factory=dict)
    points_settled: int = 0
    """Payout items the bank confirmed paid."""
    steps_synced: int = 0
    points_forfeited: int = 0

    @property
    def points_held(self) -> int:
        """Points issued and neither debited for a payout nor forfeited: what the balances
        hold."""
        return self.points_issued - self.points_paid - self.points_forfeited

    @property
    def points_pending(self) -> int:
        """Debited by a payout run and neither settled paid nor credited back."""
        return self.points_paid - self.points_settled


@dataclass(frozen=True)
class MonthRow:
    """A citizen's report row for a month (the month of the credit, Seoul time)."""

    shard: str
    citizen_id: str


@dataclass(frozen=True)
class Counted:
    """One ledger entry as the totals count it: its guard, the rows it counts in, its change,
    and the citizen's month row it adds items to (recycling only)."""

    guard_key: str
    periods: tuple[str, ...]
    change: TotalsChange
    month_row: MonthRow | None = None


def counted(entry: LedgerEntry) -> Counted:
    change = change_of(entry)
    month_row = None
    if change.materials:
        month_row = MonthRow(month_shard(month_of(entry), entry.citizen_id), entry.citizen_id)
    return Counted(
        f"totals#{entry.citizen_id}#{entry.entry_id}", periods_of(entry), change, month_row
    )


def _add(row: TotalsChange, change: TotalsChange) -> TotalsChange:
    materials = dict(row.materials)
    for material, items in change.materials:
        materials[material] = materials.get(material, 0) + items
    return TotalsChange(
        row.points_issued + change.points_issued,
        row.points_paid + change.points_paid,
        row.items_recycled + change.items_recycled,
        row.entries + change.entries,
        tuple(sorted(materials.items())),
        row.points_forfeited + change.points_forfeited,
    )


def summed(entries: list[Counted]) -> dict[str, TotalsChange]:
    """What a batch adds to each row: one update per row, however many entries."""
    rows: dict[str, TotalsChange] = {}
    for entry in entries:
        for period in entry.periods:
            rows[period] = _add(rows.get(period, TotalsChange(0, 0, 0, 0)), entry.change)
    return rows


def month_sums(entries: list[Counted]) -> dict[MonthRow, dict[str, int]]:
    """What a batch adds to each citizen's month row: items by material."""
    rows: dict[MonthRow, dict[str, int]] = {}
    for entry in entries:
        if entry.month_row is None:
            continue
        row = rows.setdefault(entry.month_row, {})
        for material, items in entry.change.materials:
            row[material] = row.get(material, 0) + items
    return rows


def rows_touched(entries: list[Counted]) -> int:
    """Items a transaction counting `entries` writes: a guard each, one update per row."""
    months = {e.month_row for e in entries if e.month_row is not None}
    periods = {p for e in entries for p in e.periods}
    return len(entries) + len(periods) + len(months)


def chunks(entries: list[Counted], limit: int) -> list[list[Counted]]:
    """Entries grouped so that each group's guards and rows fit one transaction of `limit`
    items (an entry touches at most three rows: every group holds at least one entry)."""
    out: list[list[Counted]] = []
    current: list[Counted] = []
    for entry in entries:
        if current and rows_touched([*current, entry]) > limit:
            out.append(current)
            current = []
        current.append(entry)
    if current:
        out.append(current)
    return out


def credited_by_material(detail: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    """Items credited by material, from a recycling entry's detail: its `items` (accepted
    counts, in the deposit's order) filled in that order up to `items_credited`, the total
    after the daily limit, exactly as the credit was computed
    (chalicelib.domain.recycling.compute_credit). So the materials never add up to more
    than was credited. A detail of another shape counts nothing by material."""
    try:
        remaining = int(detail.get("items_credited", 0) or 0)
    except (TypeError, ValueError):
        return ()
    items = detail.get("items")
    if not isinstance(items, list) or remaining <= 0:
        return ()
    out: dict[str, int] = {}
    for item in items:
        if not isinstance(item, Mapping):
            continue
        material = item.get("material")
        accepted = item.get("accepted")
        if not isinstance(material, str) or not MATERIAL.fullmatch(material):
            continue
        if isinstance(accepted, bool) or not isinstance(accepted, int | float):
            continue
        take = min(max(int(accepted), 0), remaining)
        if take:
            out[material] = out.get(material, 0) + take
            remaining -= take
    return tuple(out.items())


def change_of(entry: LedgerEntry) -> TotalsChange:
    recycling = entry.kind == "recycling"
    items = entry.detail.get("items_credited", 0) if recycling else 0
    return TotalsChange(
        points_issued=earned_by(entry.kind, entry.points),
        points_paid=paid_by(entry.kind, entry.points),
        items_recycled=int(items or 0),
        materials=credited_by_material(entry.detail) if recycling else (),
        points_forfeited=forfeited_by(entry.kind, entry.points),
    )


def day_period(day: date) -> str:
    return f"day#{day.isoformat()}"


def periods_of(entry: LedgerEntry) -> tuple[str, str]:
    """The rows an entry counts in: all time, and its Seoul day."""
    return ALL_TIME, day_period(seoul_day(entry.created_at))


def month_of(entry: LedgerEntry) -> str:
    """The report's month of an entry: the Seoul month it was credited in (not the deposit's
    own time: a robot's late resend lands in the month being written, never in a month
    already reported)."""
    return seoul_day(entry.created_at).strftime("%Y-%m")


def month_shard(month: str, citizen_id: str) -> str:
    return f"{month}#{zlib.crc32(citizen_id.encode()) % MONTH_SHARDS}"


def month_shards(month: str) -> list[str]:
    return [f"{month}#{n}" for n in range(MONTH_SHARDS)]


def settled_rows(day: date) -> tuple[str, str]:
    """The rows a settlement counts in (kept by the settlement's own transaction)."""
    return SETTLED + ALL_TIME, SETTLED + day_period(day)


def steps_rows(day: str) -> tuple[str, str]:
    """The rows a step day's increase counts in (kept by the boards' transaction)."""
    return STEPS + ALL_TIME, STEPS + f"day#{day}"


def walkers_row(month: str) -> str:
    """The row counting a month's active walkers (`walkers#month#2026-12`), kept by the
    boards' transaction that writes each citizen's month walkers' entry."""
    return f"{WALKERS}month#{month}"


def steps_increase(days: Iterable[tuple[str, int, int]]) -> dict[str, int]:
    """Per steps row, the increase of the stored step days: (day, before, after) each, a
    day's count only going up."""
    rows: dict[str, int] = {}
    for day, before, after in days:
        gain = after - before
        if gain <= 0:
            continue
        for row in steps_rows(day):
            rows[row] = rows.get(row, 0) + gain
    return rows


def reconciled(audited: Mapping[str, object], stats: Totals) -> dict[str, object]:
    """The audit's check of the stats counters: each figure of invariant 3 as the stats hold
    it against what the audit found (issued from the ledger, held from the balances, paid and
    pending from the payout runs' settlement counters). The stats follow the streams within
    seconds, so a mismatch while the city is busy may be a record in flight; one that the next
    audit finds again is a lost or doubled count."""
    figures = {
        "points_issued": stats.points_issued,
        "points_held": stats.points_held,
        "points_paid": stats.points_settled,
        "points_pending": stats.points_pending,
        "points_forfeited": stats.points_forfeited,
    }
    found = {name: audited.get(name) for name in figures}
    if found["points_forfeited"] is None:
        found["points_forfeited"] = 0  # an audit that counted no forfeits found none
    mismatches = {
        name: {"stats": value, "audit": found[name]}
        for name, value in figures.items()
        if found[name] != value
    }
    return {"stats": figures, "stats_match": not mismatches, "stats_mismatches": mismatches}
