"""Points as money: the one posting every movement goes through (DESIGN §6, invariants 1-3).

A posting is decided here, in plain values, against the citizen's account as last read; a
ledger store writes it as one all-or-nothing transaction: the exactly-once guard, the
ledger entry with its `balance_after`, the account under its version, and the posting's
extra effects (a day's item count, a deposit code consumed, ...), each with its own
condition. A deposit, a challenge prize, a payout, its reversal and a correction are all
postings; only their kind, sign and effects differ. The effects are declared by the
capabilities that post them (chalicelib.domain.recycling, chalicelib.domain.payout_runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from chalicelib.domain.ids import sortable_id
from chalicelib.domain.staff_actions import StaffAction

LedgerKind = Literal[
    "recycling", "challenge_prize", "payout", "payout_reversal", "correction", "forfeit"
]

# Which lifetime total a kind moves: earnings count what the city issued, payouts what it
# paid (a reversal gives a failed payout back, so it lowers `lifetime_paid`). A forfeit
# (an account closed with points left, given up by its holder: docs/account-closing.md)
# moves neither: the points were issued and never paid; invariant 3 counts them apart.
_PAID_KINDS: frozenset[str] = frozenset({"payout", "payout_reversal"})
FORFEIT = "forfeit"


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


class Effect:
    """Something a posting writes besides the ledger entry and the account, in the same
    transaction and under its own condition (a day's item count, a payout item, ...).

    Each capability declares its own effects (frozen dataclasses deriving from this) beside
    its rules; a ledger store turns each into its write, and refuses the whole posting with
    EffectRefused when an effect's condition fails. The ledger itself knows none of them."""

    __slots__ = ()


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
    action: StaffAction | None = None
    """The staff action that made this posting (a correction's approval): its action-log
    entry is written in the posting's transaction, never one without the other."""

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
    return 0 if kind in _PAID_KINDS or kind == FORFEIT else points


def paid_by(kind: str, points: int) -> int:
    """What a movement adds to what the city paid (`lifetime_paid`): a payout debits, so it
    pays `-points`; its reversal gives them back."""
    return -points if kind in _PAID_KINDS else 0


def forfeited_by(kind: str, points: int) -> int:
    """What a movement adds to the points given up by closed accounts (a forfeit debits)."""
    return -points if kind == FORFEIT else 0


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
