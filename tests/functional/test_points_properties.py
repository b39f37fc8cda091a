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
    rule_message,
    sqs_record,
)

_citizens = itertools.count()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    amounts=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=6),
    copies=st.lists(st.integers(1, 3), min_size=6, max_size=6),
    order=st.randoms(use_true_random=False),
    batch=st.integers(1, 10),
)
def test_any_replay_in_any_order_equals_one_clean_delivery(
    api: Api, amounts: list[tuple[int, int]], copies: list[int], order: Any, batch: int
) -> None:
    n = next(_citizens)
    who, phone = f"prop-{n}", f"010-7{n:03d}-0000"
    assert (
        api.call(
            "PUT",
            "/v1/me",
            as_user=who,
            body={"display_name": who, "district": "naeoe-dong", "phone": phone},
        ).status
        == 200
    )
    events = [
        (
            "robot-001" if i % 2 else "robot-002",
            deposit(f"evt-p{n:03d}-{i:03d}", phone=phone, can=can, pet=pet),
        )
        for i, (can, pet) in enumerate(amounts)
    ]
    deliveries = [e for e, k in zip(events, copies, strict=False) for _ in range(k)]
    order.shuffle(deliveries)
    for start in range(0, len(deliveries), batch):
        records = [
            sqs_record(rule_message(device, payload), f"m{start + j}")
            for j, (device, payload) in enumerate(deliveries[start : start + batch])
        ]
        assert invoke_deposits(records) == {"batchItemFailures": []}
    clean = sum(can * 15 + pet * 10 for can, pet in amounts if can + pet > 0)
    body = api.call("GET", "/v1/me", as_user=who).body
    ledger = api.call("GET", "/v1/me/ledger?limit=100", as_user=who).body["entries"]
    assert body["balance"] == clean == sum(e["points"] for e in ledger)
    assert body["balance"] >= 0
    assert len(ledger) == sum(1 for can, pet in amounts if can + pet > 0)
    # each entry's balance_after is the running sum in the order the credits happened
    running = [e["balance_after"] for e in reversed(ledger)]
    assert running == list(itertools.accumulate(e["points"] for e in reversed(ledger)))
