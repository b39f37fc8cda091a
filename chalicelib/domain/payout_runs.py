"""Payout runs in the city's terms (DESIGN §4 payout runs, §5 threshold, §6): which period a
run pays, the postings that pay and reverse a payout with the effects they carry, a run's
items and counters, and what a settlement may change. Plain values and rules only."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from chalicelib.domain.clock import SEOUL
from chalicelib.domain.ledger import Account, Effect, Posting
from chalicelib.domain.payout_accounts import StoredPayoutAccount
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.errors import Conflict, Unprocessable

RunStatus = Literal["running", "ready", "approved", "settled"]
ItemStatus = Literal["pending", "paid", "failed"]
SkipReason = Literal["no_account", "below_threshold"]
SKIP_REASONS: tuple[SkipReason, ...] = ("no_account", "below_threshold")
SKIP_FILTERS = ("all", *SKIP_REASONS)
"""What `GET .../skipped?reason=` takes: one reason, or `all` (the default)."""


# Periods and runs ------------------------------------------------------------------------

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only (\d matches any script's)


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def previous(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)


def parse_period(text: object) -> Period:
    """`YYYY-MM`, a real month; anything else is a 422 naming `period`."""
    m = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise Unprocessable(
            "the period must be a month, YYYY-MM",
            code="invalid_period",
            details=[{"field": "period", "problem": "YYYY-MM"}],
        )
    return Period(int(m.group(1)), int(m.group(2)))


def check_closed(period: Period, now: datetime) -> None:
    """A run pays a month that has ended in Seoul: the current month or a later one is a 422
    `period_open` (a run for it would pay balances still growing and meet the schedule's
    own run on the 1st)."""
    current = Period.of(now.astimezone(SEOUL).date())
    if period >= current:
        raise Unprocessable(
            f"{period} has not ended yet; the latest month a run can pay is {current.previous}",
            code="period_open",
            details=[{"field": "period", "problem": f"before {current}"}],
        )


def scheduled_period(fired_at: datetime) -> Period:
    """The month a scheduled run pays: the one that just ended in Seoul (the schedule fires
    on the 1st at 03:00 Asia/Seoul)."""
    return Period.of(fired_at.astimezone(SEOUL).date()).previous


def run_id_for(period: Period) -> str:
    """One run per period: its id is the period's, so two starts meet on one key."""
    return f"payout-{period}"


def payout_guard(run_id: str, citizen_id: str) -> str:
    return f"payout#{run_id}#{citizen_id}"


def reversal_guard(run_id: str, citizen_id: str) -> str:
    return f"payout-reversal#{run_id}#{citizen_id}"


# Effects a payout posting carries ------------------------------------------------------


@dataclass(frozen=True)
class PayoutRecorded(Effect):
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
class PayoutSettled(Effect):
    """Effect: a pending payout item settled as `status`; refused unless still pending."""

    run_id: str
    citizen_id: str
    status: Literal["paid", "failed"]
    admin_id: str


@dataclass(frozen=True)
class PayoutRunCounted(Effect):
    """Effect: add settled items to the run's counters (the run is `settled` when every item
    is), in the same transaction as the items themselves."""

    run_id: str
    paid_items: int = 0
    paid_points: int = 0
    failed_items: int = 0
    failed_points: int = 0


@dataclass(frozen=True)
class ChunkPaid(Effect):
    """Effect: count a payment on the run's chunk that made it, refused once the chunk is
    counted. The chunk is counted only while this count equals the payments it tallied, so
    a payment by a concurrent duplicate of the chunk can never go uncounted."""

    job_id: str
    chunk_key: str


def payout_posting(
    run_id: str,
    period: str,
    account: Account,
    paid_to: StoredPayoutAccount,
    at: datetime,
    chunk: tuple[str, str] | None = None,
) -> Posting:
    """Debit the whole balance and record the payout item (and count it on its chunk), in
    one posting."""
    return Posting(
        guard_key=payout_guard(run_id, account.citizen_id),
        account=account,
        points=-account.balance,
        kind="payout",
        detail={"run_id": run_id, "period": period},
        at=at,
        effects=(
            PayoutRecorded(
                run_id=run_id,
                citizen_id=account.citizen_id,
                period=period,
                amount=account.balance,
                bank_code=paid_to.bank_code,
                account_ciphertext=paid_to.account_ciphertext,
                account_last4=paid_to.account_last4,
                holder=paid_to.holder,
            ),
            *((ChunkPaid(*chunk),) if chunk else ()),
        ),
    )


def reversal_posting(
    run_id: str,
    amount: int,
    account: Account,
    admin_id: str,
    at: datetime,
    action: StaffAction | None = None,
) -> Posting:
    """Credit a failed transfer back, mark its item failed and count it, in one posting
    (with the settlement's action-log entry, `settle_item_action`, in its transaction)."""
    return Posting(
        guard_key=reversal_guard(run_id, account.citizen_id),
        account=account,
        points=amount,
        kind="payout_reversal",
        detail={"run_id": run_id, "reason": "transfer_failed"},
        at=at,
        effects=(
            PayoutSettled(run_id, account.citizen_id, "failed", admin_id),
            PayoutRunCounted(run_id, failed_items=1, failed_points=amount),
        ),
        action=action,
    )


@dataclass(frozen=True)
class PayoutItem:
    run_id: str
    citizen_id: str
    period: str
    amount: int
    bank_code: str
    account_ciphertext: str
    account_last4: str
    holder: str
    status: ItemStatus
    created_at: datetime
    settled_at: datetime | None = None
    settled_by: str | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    period: str
    status: RunStatus
    started_at: datetime
    started_by: str
    chunks_expected: int
    chunks_done: int
    citizens: int
    total_points: int
    skipped_no_account: int
    skipped_below_threshold: int
    paid_items: int = 0
    paid_points: int = 0
    failed_items: int = 0
    failed_points: int = 0
    ready_at: datetime | None = None
    approved_at: datetime | None = None
    approved_by: str | None = None
    exports: Mapping[str, str] = field(default_factory=dict)
    """The SHA-256 of each transfer file served, by format (a kept file never changes)."""
    settled_at: datetime | None = None

    @property
    def pending_items(self) -> int:
        return self.citizens - self.paid_items - self.failed_items

    @property
    def pending_points(self) -> int:
        return self.total_points - self.paid_points - self.failed_points


@dataclass
class ChunkTally:
    """What one chunk of a run did, from the state it found and left (so a redelivered
    chunk counts the same)."""

    citizens: int = 0
    points: int = 0
    no_account: int = 0
    below_threshold: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def paid(self, amount: int) -> None:
        self.citizens += 1
        self.points += amount

    def skip(self, citizen_id: str, reason: SkipReason) -> None:
        self.skipped.append(Skipped(citizen_id, reason))
        if reason == "no_account":
            self.no_account += 1
        else:
            self.below_threshold += 1


@dataclass(frozen=True)
class Skipped:
    """A citizen a run did not pay, and why (support reaches them: DESIGN §4b)."""

    citizen_id: str
    reason: SkipReason


@dataclass(frozen=True)
class SkippedPage:
    skipped: list[Skipped]
    next_cursor: str | None


@dataclass(frozen=True)
class RunPage:
    runs: list[RunSummary]
    next_cursor: str | None


def approval_step(run: RunSummary) -> Literal["apply", "unchanged"]:
    """A `ready` run is approved once; an approved (or settled) one is already approved
    (a repeat or a lost race answers it as it is); a run still paying cannot be."""
    if run.status == "ready":
        return "apply"
    if run.status in ("approved", "settled"):
        return "unchanged"
    raise Conflict(
        "the run is still paying; approve it when ready",
        code="run_not_ready",
        details=[{"run_id": run.run_id, "status": run.status}],
    )


def check_approved(run: RunSummary, what: str) -> None:
    """Export and settlement need an approved run (409 `not_approved` otherwise)."""
    if run.status not in ("approved", "settled"):
        raise Conflict(
            f"the run must be approved by a second person before {what}",
            code="not_approved",
            details=[{"run_id": run.run_id, "status": run.status}],
        )


# Settlement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettleRequest:
    paid: tuple[str, ...]
    failed: tuple[str, ...]


SettleStep = Literal["apply", "unchanged", "conflict"]


SETTLE_ITEM = "payout_run.settle_item"


def settle_item_action(
    by: Actor, item: PayoutItem, outcome: Literal["paid", "failed"], at: datetime
) -> StaffAction:
    """The action-log entry of one item settled: written in the very transaction that
    settles it (the paid mark, or the failed item's credit-back posting), so the log holds
    exactly one entry per item settled, whatever was replayed, raced or cut short."""
    return new_action(
        by,
        SETTLE_ITEM,
        f"run:{item.run_id}",
        at,
        {"citizen_id": item.citizen_id, "outcome": outcome, "amount": item.amount},
    )


def settle_step(current: ItemStatus, wanted: Literal["paid", "failed"]) -> SettleStep:
    """A pending item takes either outcome once; the same outcome again changes nothing; the
    other outcome after one is a conflict (money already moved one way)."""
    if current == "pending":
        return "apply"
    return "unchanged" if current == wanted else "conflict"


def judge_settlement(paid: Sequence[str], failed: Sequence[str], limit: int) -> SettleRequest:
    both = sorted(set(paid) & set(failed))
    if both:
        raise Unprocessable(
            "a citizen cannot be both paid and failed",
            code="conflicting_outcomes",
            details=[{"citizen_id": c} for c in both[:50]],
        )
    if not paid and not failed:
        raise Unprocessable("name at least one citizen", code="nothing_to_settle")
    if len(set(paid)) + len(set(failed)) > limit:
        raise Unprocessable(f"at most {limit} citizens per request", code="too_many_citizens")
    return SettleRequest(tuple(dict.fromkeys(paid)), tuple(dict.fromkeys(failed)))
