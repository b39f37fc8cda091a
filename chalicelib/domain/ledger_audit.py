"""The ledger audit in the city's terms (DESIGN §6 invariants 2 and 3): what an audit of
one citizen finds, what a page of them adds up to, and whether the city's books balance.
Plain values and rules only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from chalicelib.domain.ledger import LedgerEntry, earned_by, paid_by
from chalicelib.domain.payout_runs import RunSummary

Problem = Literal["chain_broken", "negative_balance", "balance_mismatch", "lifetime_mismatch"]
"""What an audit can find wrong with one citizen's ledger."""


@dataclass(frozen=True)
class AuditedCitizen:
    """A citizen's account as the audit read it."""

    citizen_id: str
    balance: int
    lifetime_earned: int
    lifetime_paid: int


@dataclass(frozen=True)
class Discrepancy:
    citizen_id: str
    problem: Problem
    balance: int
    ledger_sum: int
    detail: str = ""


@dataclass
class AuditTally:
    citizens_checked: int = 0
    points_issued: int = 0
    points_paid: int = 0
    points_held: int = 0
    points_forfeited: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)


def audit_citizen(citizen: AuditedCitizen, entries: Sequence[LedgerEntry]) -> list[Discrepancy]:
    """Invariant 2 for one citizen: the entries, in the order the balance moved, chain (each
    `balance_after` is the previous plus its points, never below zero), and the balance and
    lifetime totals equal their sums."""
    found: list[Discrepancy] = []
    running = earned = paid = 0
    for entry in sorted(entries, key=lambda e: e.entry_id):
        running += entry.points
        earned += earned_by(entry.kind, entry.points)
        paid += paid_by(entry.kind, entry.points)
        if entry.balance_after != running and not any(d.problem == "chain_broken" for d in found):
            found.append(
                Discrepancy(
                    citizen.citizen_id, "chain_broken", citizen.balance, running,
                    f"entry {entry.entry_id}: balance_after {entry.balance_after}",
                )
            )  # fmt: skip
        if running < 0 and not any(d.problem == "negative_balance" for d in found):
            found.append(
                Discrepancy(citizen.citizen_id, "negative_balance", citizen.balance, running)
            )
    if citizen.balance != running:
        found.append(Discrepancy(citizen.citizen_id, "balance_mismatch", citizen.balance, running))
    if citizen.balance < 0 and not any(d.problem == "negative_balance" for d in found):
        found.append(Discrepancy(citizen.citizen_id, "negative_balance", citizen.balance, running))
    if citizen.lifetime_earned != earned or citizen.lifetime_paid != paid:
        found.append(
            Discrepancy(
                citizen.citizen_id, "lifetime_mismatch", citizen.balance, running,
                f"earned {citizen.lifetime_earned} vs {earned}, paid {citizen.lifetime_paid}"
                f" vs {paid}",
            )
        )  # fmt: skip
    return found


def city_totals(
    issued: int,
    ledger_paid: int,
    held: int,
    runs: Sequence[RunSummary],
    forfeited: int = 0,
) -> dict[str, object]:
    """Invariant 3: points issued == paid + held + pending in payouts + forfeited by closed
    accounts. Paid and pending come from the runs' settlement counters, held from the
    balances, issued and forfeited from the ledger: independent records that must agree.
    (A forfeit is issued and never paid: counted apart, so `issued` stays what the city
    issued, docs/account-closing.md.)"""
    paid = sum(r.paid_points for r in runs)
    pending = sum(r.pending_points for r in runs)
    accounted = paid + held + pending + forfeited
    return {
        "points_issued": issued,
        "points_paid": paid,
        "points_held": held,
        "points_pending": pending,
        "points_forfeited": forfeited,
        "ledger_points_paid": ledger_paid,
        "balanced": issued == accounted and ledger_paid == paid + pending,
        "difference": issued - accounted,
    }


@dataclass(frozen=True)
class AuditSummary:
    audit_id: str
    status: Literal["running", "done"]
    started_at: datetime
    started_by: str
    chunks_expected: int
    chunks_done: int
    citizens_checked: int
    discrepancy_count: int
    discrepancies: list[Discrepancy]
    points_issued: int
    points_paid: int
    points_held: int
    totals: dict[str, object] | None
    finished_at: datetime | None
    points_forfeited: int = 0
