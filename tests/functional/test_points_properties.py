"""Invariants 1 and 2 (DESIGN §6) as properties: whatever the duplication and the order of
deliveries, balances and ledgers equal one clean delivery, and balance == sum(ledger)."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    register,
    rule_message,
    sqs_record,
)

_citizens = itertools.count()


def _clean_delivery(first_seen: list[tuple[int, int]], limit: int = 100) -> tuple[int, int]:
    """Reference model: points and credits of one delivery of each event, in that order,
    with the daily item limit applied (cans before bottles within an event)."""
    points = credits = items = 0
    for can, pet in first_seen:
        if can + pet == 0 or items >= limit:
            continue
        take_can = min(can, limit - items)
        take_pet = min(pet, limit - items - take_can)
        items += take_can + take_pet
        points += take_can * 15 + take_pet * 10
        credits += 1
    return points, credits


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    amounts=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=6),
    copies=st.lists(st.integers(1, 3), min_size=6, max_size=6),
    order=st.randoms(use_true_random=False),
    batch=st.integers(1, 10),
)
def test_any_replay_in_any_order_equals_one_clean_delivery(
    api: Api, amounts: list[tuple[int, int]], copies: list[int], order: Any, batch: int
) -> None:
    # GIVEN one citizen, identified by phone on even events and by one-time code on odd ones
    n = next(_citizens)
    who, phone = f"prop-{n}", f"010-7{n:03d}-0000"
    register(api, who, phone=phone)
    events = []
    for i, (can, pet) in enumerate(amounts):
        if i % 2:
            code = api.call("POST", "/v1/me/deposit-codes", as_user=who).body["code"]
            payload = deposit(f"evt-p{n:03d}-{i:03d}", code, can=can, pet=pet)
        else:
            payload = deposit(f"evt-p{n:03d}-{i:03d}", phone=phone, can=can, pet=pet)
        events.append((i, "robot-001" if i % 2 else "robot-002", payload))
    # WHEN each event is delivered 1-3 times, shuffled, in batches
    deliveries = [e for e, k in zip(events, copies, strict=False) for _ in range(k)]
    order.shuffle(deliveries)
    for start in range(0, len(deliveries), batch):
        records = [
            sqs_record(rule_message(device, payload), f"m{start + j}")
            for j, (_, device, payload) in enumerate(deliveries[start : start + batch])
        ]
        assert invoke_deposits(records) == {"batchItemFailures": []}
    # THEN the result is one clean delivery in the order events were first seen
    first_seen = [amounts[i] for i in dict.fromkeys(i for i, _, _ in deliveries)]
    points, credits = _clean_delivery(first_seen)
    me = api.call("GET", "/v1/me", as_user=who).body
    ledger = api.call("GET", "/v1/me/ledger?limit=100", as_user=who).body["entries"]
    assert me["balance"] == points == sum(e["points"] for e in ledger)
    assert me["balance"] >= 0
    assert len(ledger) == credits
    # AND each entry's balance_after is the running sum in the order the credits happened
    running = [e["balance_after"] for e in reversed(ledger)]
    assert running == list(itertools.accumulate(e["points"] for e in reversed(ledger)))
