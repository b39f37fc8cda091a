"""Effects of a posting in memory: whether each holds, and what it changes, for every
capability's effect (as chalicelib.adapters.dynamodb_effects writes them to DynamoDB)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from chalicelib.domain.ledger import Effect, Posting
from chalicelib.domain.payout_runs import (
    ChunkPaid,
    PayoutItem,
    PayoutRecorded,
    PayoutRunCounted,
    PayoutSettled,
)
from chalicelib.domain.recycling import CodeConsumed, ItemsCounted
from tests.fakes.city import MemoryCity


def effect_holds(city: MemoryCity, effect: Effect) -> bool:
    """Whether the effect's condition holds on the city as it is."""
    return _HOLDS[type(effect)](city, effect)


def apply_effect(city: MemoryCity, effect: Effect, posting: Posting) -> None:
    _APPLY[type(effect)](city, effect, posting)


def _items_counted_holds(city: MemoryCity, effect: ItemsCounted) -> bool:
    count = city.days.get((effect.citizen_id, effect.day))
    if effect.limit is not None:
        return count is None or count <= effect.limit - effect.items
    return count == effect.expected


def _code_consumed_holds(city: MemoryCity, effect: CodeConsumed) -> bool:
    held = city.codes.get(effect.code)
    return (
        held is not None
        and held.record.used_by is None
        and held.record.citizen_id == effect.citizen_id
    )


def _items_counted(city: MemoryCity, effect: ItemsCounted, posting: Posting) -> None:
    key = (effect.citizen_id, effect.day)
    city.days[key] = city.days.get(key, 0) + effect.items


def _code_consumed(city: MemoryCity, effect: CodeConsumed, posting: Posting) -> None:
    held = city.codes[effect.code]
    held.record = dataclasses.replace(held.record, used_by=posting.guard_key)


def _chunk_paid_holds(city: MemoryCity, effect: ChunkPaid) -> bool:
    chunk = city.chunks.get((effect.job_id, effect.chunk_key))
    return chunk is not None and not chunk.done


def _payout_recorded_holds(city: MemoryCity, effect: PayoutRecorded) -> bool:
    return (effect.run_id, effect.citizen_id) not in city.payout_items


def _payout_settled_holds(city: MemoryCity, effect: PayoutSettled) -> bool:
    item = city.payout_items.get((effect.run_id, effect.citizen_id))
    return item is not None and item.status == "pending"


def _run_counted_holds(city: MemoryCity, effect: PayoutRunCounted) -> bool:
    return effect.run_id in city.payout_runs


def _chunk_paid(city: MemoryCity, effect: ChunkPaid, posting: Posting) -> None:
    key = (effect.job_id, effect.chunk_key)
    city.chunks[key] = dataclasses.replace(city.chunks[key], paid=city.chunks[key].paid + 1)


def _payout_recorded(city: MemoryCity, effect: PayoutRecorded, posting: Posting) -> None:
    city.payout_items[(effect.run_id, effect.citizen_id)] = PayoutItem(
        effect.run_id,
        effect.citizen_id,
        effect.period,
        effect.amount,
        effect.bank_code,
        effect.account_ciphertext,
        effect.account_last4,
        effect.holder,
        "pending",
        posting.at,
    )


def _payout_settled(city: MemoryCity, effect: PayoutSettled, posting: Posting) -> None:
    key = (effect.run_id, effect.citizen_id)
    city.payout_items[key] = dataclasses.replace(
        city.payout_items[key],
        status=effect.status,
        settled_at=posting.at,
        settled_by=effect.admin_id,
    )


def _run_counted(city: MemoryCity, effect: PayoutRunCounted, posting: Posting) -> None:
    run = city.payout_runs[effect.run_id]
    city.payout_runs[effect.run_id] = dataclasses.replace(
        run,
        paid_items=run.paid_items + effect.paid_items,
        paid_points=run.paid_points + effect.paid_points,
        failed_items=run.failed_items + effect.failed_items,
        failed_points=run.failed_points + effect.failed_points,
    )


_HOLDS: dict[type[Effect], Callable[[MemoryCity, Any], bool]] = {
    ItemsCounted: _items_counted_holds,
    CodeConsumed: _code_consumed_holds,
    PayoutRecorded: _payout_recorded_holds,
    PayoutSettled: _payout_settled_holds,
    PayoutRunCounted: _run_counted_holds,
    ChunkPaid: _chunk_paid_holds,
}
_APPLY: dict[type[Effect], Callable[[MemoryCity, Any, Posting], None]] = {
    ItemsCounted: _items_counted,
    CodeConsumed: _code_consumed,
    PayoutRecorded: _payout_recorded,
    PayoutSettled: _payout_settled,
    PayoutRunCounted: _run_counted,
    ChunkPaid: _chunk_paid,
}
