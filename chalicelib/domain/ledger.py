"""Points as money: the one posting every movement goes through (DESIGN §6, invariants 1-3).

A posting is decided here, in plain values, against the citizen's account as last read; a
ledger store writes it as one all-or-nothing transaction: the exactly-once guard, the
ledger entry with its `balance_after`, the account under its version, and the posting's
extra effects (a day's item count, a deposit code consumed, ...), each with its own
condition. A deposit, a challenge prize, a payout, its reversal and a correction are all
postings; only their kind, sign and effects differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from chalicelib.domain.ids import sortable_id

LedgerKind = Literal["recycling", "challenge_prize", "payout", "payout_reversal", "correction"]

# Which lifetime total a kind moves: earnings count what the city issued, payouts what it
# paid (a reversal gives a failed payout back, so it lowers `lifetime_paid`).
_PAID_KINDS: frozenset[str] = frozenset({"payout", "payout_reversal"})


@dataclass(frozen=True)
class Account:
    """A citizen's points as last read (from the citizen's row, or from the snapshot a phone
    link or deposit code carries). Every posting is conditioned on this version, so a stale
    snapshot can never post a wrong `balance_after`: it fails and is read again."""

    citizen_id: str
    balance: int
    version: int
    phone_hash: str | None = None
    """The account's phone link, whose snapshot every posting refreshes."""


@dataclass(frozen=True)
class ItemsCounted:
    """Effect: add to the citizen's items credited on a Seoul day (the daily limit's counter).

    Conditioned on the count read (`expected`; None: the day had no row yet), or, when the
    count was not read, on the items fitting under `limit`."""

    citizen_id: str
    day: str
    items: int
    expected: int | None
    limit: int | None = None


@dataclass(frozen=True)
class CodeConsumed:
    """Effect: mark a one-time deposit code used by this posting; refused if already used or
    held by another citizen."""

    code: str
    citizen_id: str


@dataclass(frozen=True)
class PayoutRecorded:
    """Effect: the payout item of a run for this citizen, written with the debit that pays
    it (refused if the run already holds one: a citizen is paid once per run).

    It snapshots the account paid to (bank, the number as ciphertext, holder), so the
    transfer file shows where the money went even if the citizen changes account later."""

    run_id: str
    citizen_id: str
    period: str
    amount: int
    bank_code: str
    account_ciphertext: str
    account_last4: str
    holder: str


@dataclass(frozen=True)
class PayoutSettled:
    """Effect: a pending payout item settled as `status`; refused unless still pending."""

    run_id: str
    citizen_id: str
    status: Literal["paid", "failed"]
    admin_id: str


@dataclass(frozen=True)
class PayoutRunCounted:
    """Effect: add settled items to the run's counters (the run is `settled` when every item
    is), in the same transaction as the items themselves."""

    run_id: str
    paid_items: int = 0
    paid_points: int = 0
    failed_items: int = 0
    failed_points: int = 0


@dataclass(frozen=True)
class ChunkPaid:
    """Effect: count a payment on the run's chunk that made it, refused once the chunk is
    counted. The chunk is counted only while this count equals the payments it tallied, so
    a payment by a concurrent duplicate of the chunk can never go uncounted."""

    job_id: str
    chunk_key: str


Effect = ItemsCounted | CodeConsumed | PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid


@dataclass(frozen=True)
class Posting:
    guard_key: str
    """The exactly-once key: a second posting with it is refused (AlreadyPosted)."""
    account: Account
    points: int
    """Signed: positive credits, negative debits."""
    kind: LedgerKind
    detail: Mapping[str, Any]
    at: datetime
    effects: tuple[Effect, ...] = ()
    note: str | None = None
    """Kept with the first result (e.g. `daily_limit`), so a replay answers the same."""
    entry_id: str = field(default="")

    def __post_init__(self) -> None:
        if self.points == 0:
            raise ValueError("a posting moves points")
        if self.balance_after < 0:
            raise InsufficientBalance(self.account.citizen_id, self.account.balance, self.points)
        if not self.entry_id:
            object.__setattr__(self, "entry_id", ledger_entry_id(self.account.version, self.at))

    @property
    def balance_after(self) -> int:
        return self.account.balance + self.points

    @property
    def earned(self) -> int:
        return earned_by(self.kind, self.points)

    @property
    def paid(self) -> int:
        return paid_by(self.kind, self.points)


@dataclass(frozen=True)
class PostedResult:
    """The first outcome recorded under a guard key: a posting, or a final rejection."""

    status: Literal["credited", "rejected"]
    points: int
    balance_after: int | None
    reason: str | None
    entry_id: str | None = None


@dataclass(frozen=True)
class LedgerEntry:
    citizen_id: str
    entry_id: str
    kind: str
    points: int
    balance_after: int
    created_at: datetime
    source_key: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    next_cursor: str | None


def earned_by(kind: str, points: int) -> int:
    """What a movement adds to what the city issued (`lifetime_earned`)."""
    return 0 if kind in _PAID_KINDS else points


def paid_by(kind: str, points: int) -> int:
    """What a movement adds to what the city paid (`lifetime_paid`): a payout debits, so it
    pays `-points`; its reversal gives them back."""
    return -points if kind in _PAID_KINDS else 0


def payout_eligible(balance: int, threshold: int) -> bool:
    """Whether a balance belongs in the payout eligibility index."""
    return balance >= threshold


def ledger_entry_id(version: int, at: datetime) -> str:
    """Sorts a citizen's entries in the order their balance moved: the account's version
    (which every posting bumps under a condition) first, then time."""
    return f"{version + 1:012d}-{sortable_id(at)}"


class AlreadyPosted(Exception):
    """A posting with this guard key happened already: its effect exists once."""


class EffectRefused(Exception):
    """An effect's condition failed (a code used meanwhile, a day count moved)."""

    def __init__(self, effect: Effect) -> None:
        super().__init__(f"refused: {effect}")
        self.effect = effect


class InsufficientBalance(Exception):
    """A debit would take a balance below zero (invariant 2)."""

    def __init__(self, citizen_id: str, balance: int, points: int) -> None:
        super().__init__(f"{citizen_id}: balance {balance} cannot move by {points}")
