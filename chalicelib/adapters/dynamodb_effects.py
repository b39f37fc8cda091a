"""DynamoDB writes of a posting's effects: the one place that maps each capability's effect
(chalicelib.domain.ledger.Effect) to the update it makes in the posting's transaction.

The ledger store asks `effect_write` for every effect it carries and knows none of them; a
capability that adds an effect adds its writer to `_WRITERS` here, beside the others.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters.dynamodb_models import (
    CitizenDay,
    Correction,
    DepositCode,
    JobChunk,
    PayoutItem,
    PayoutRun,
)
from chalicelib.domain.corrections import CorrectionApproved
from chalicelib.domain.ledger import Effect, Posting
from chalicelib.domain.payout_runs import (
    ChunkPaid,
    PayoutRecorded,
    PayoutRunCounted,
    PayoutSettled,
)
from chalicelib.domain.recycling import CodeConsumed, ItemsCounted

DAY_RETENTION = timedelta(days=40)
"""A citizen's day counter outlives the daily limit it enforces."""
RECORD_RETENTION = timedelta(days=5 * 366)
"""Payment records: five years, as Korean tax law keeps them."""

EffectWrite = tuple[Model, list[Action], Condition]


def effect_write(effect: Effect, posting: Posting) -> EffectWrite:
    """The item an effect updates, its actions and its condition, for the posting's
    transaction (TypeError for an effect no capability registered)."""
    writer = _WRITERS.get(type(effect))
    if writer is None:
        raise TypeError(f"no write for effect {effect!r}")
    return writer(effect, posting)


def run_counted(effect: PayoutRunCounted) -> list[Action]:
    """The run's settlement counters moved by `effect` (also written by a settlement of
    paid items, which is no posting)."""
    return [
        PayoutRun.paid_items.add(effect.paid_items),
        PayoutRun.paid_points.add(effect.paid_points),
        PayoutRun.failed_items.add(effect.failed_items),
        PayoutRun.failed_points.add(effect.failed_points),
    ]


# Recycling ------------------------------------------------------------------------------


def _items_counted(effect: ItemsCounted, posting: Posting) -> EffectWrite:
    counted = CitizenDay.items_credited
    if effect.limit is not None:
        condition = CitizenDay.day.does_not_exist() | (counted <= effect.limit - effect.items)
    elif effect.expected is None:
        condition = CitizenDay.day.does_not_exist()
    else:
        condition = counted == effect.expected
    return (
        CitizenDay(effect.citizen_id, effect.day),
        [counted.add(effect.items), CitizenDay.expires.set(posting.at + DAY_RETENTION)],
        condition,
    )


def _code_consumed(effect: CodeConsumed, posting: Posting) -> EffectWrite:
    return (
        DepositCode(effect.code),
        [DepositCode.used_by.set(posting.guard_key)],
        DepositCode.used_by.does_not_exist() & (DepositCode.citizen_id == effect.citizen_id),
    )


# Payout runs ----------------------------------------------------------------------------


def _payout_recorded(effect: PayoutRecorded, posting: Posting) -> EffectWrite:
    return (
        PayoutItem(effect.run_id, effect.citizen_id),
        [
            PayoutItem.period.set(effect.period),
            PayoutItem.amount.set(effect.amount),
            PayoutItem.bank_code.set(effect.bank_code),
            PayoutItem.account_ciphertext.set(effect.account_ciphertext),
            PayoutItem.account_last4.set(effect.account_last4),
            PayoutItem.holder.set(effect.holder),
            PayoutItem.status.set("pending"),
            PayoutItem.created_at.set(posting.at),
            PayoutItem.expires.set(posting.at + RECORD_RETENTION),
        ],
        PayoutItem.citizen_id.does_not_exist(),
    )


def _payout_settled(effect: PayoutSettled, posting: Posting) -> EffectWrite:
    return (
        PayoutItem(effect.run_id, effect.citizen_id),
        [
            PayoutItem.status.set(effect.status),
            PayoutItem.settled_at.set(posting.at),
            PayoutItem.settled_by.set(effect.admin_id),
        ],
        PayoutItem.status == "pending",
    )


def _payout_run_counted(effect: PayoutRunCounted, posting: Posting) -> EffectWrite:
    return PayoutRun(effect.run_id), run_counted(effect), PayoutRun.run_id.exists()


def _chunk_paid(effect: ChunkPaid, posting: Posting) -> EffectWrite:
    return (
        JobChunk(effect.job_id, effect.chunk_key),
        [JobChunk.paid.add(1)],
        JobChunk.chunk_key.exists() & (JobChunk.done == False),  # noqa: E712
    )


# Corrections ----------------------------------------------------------------------------


def _correction_approved(effect: CorrectionApproved, posting: Posting) -> EffectWrite:
    """Pending -> approved, once, and never by its proposer (checked again in the write)."""
    return (
        Correction(effect.correction_id),
        [
            Correction.status.set("approved"),
            Correction.decided_by.set(effect.approver),
            Correction.decided_at.set(posting.at),
            Correction.entry_id.set(posting.entry_id),
            Correction.balance_after.set(posting.balance_after),
        ],
        (Correction.status == "pending")
        & (Correction.proposed_by != effect.approver)
        & (Correction.citizen_id == posting.account.citizen_id),
    )


_WRITERS: dict[type[Effect], Callable[[Any, Posting], EffectWrite]] = {
    ItemsCounted: _items_counted,
    CodeConsumed: _code_consumed,
    PayoutRecorded: _payout_recorded,
    PayoutSettled: _payout_settled,
    PayoutRunCounted: _payout_run_counted,
    ChunkPaid: _chunk_paid,
    CorrectionApproved: _correction_approved,
}
