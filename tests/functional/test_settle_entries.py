"""Settlement and the action log, through the real routes and adapters on moto: every item
settled (a paid mark, or a failed item's credit-back posting) carries its own
`payout_run.settle_item` entry in the transaction that settles it, so replays, reordered
lists, races and a request cut short leave exactly one entry per item settled, never an
entry without its write nor a write without its entry. Also: the transactions' item counts
and sizes against DynamoDB's limits, and the requests each settlement makes."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from chalicelib import queues
from chalicelib.domain.staff_actions import Actor
from chalicelib.services.payout_runs import PAID_BATCH
from tests.functional.conftest import Api
from tests.functional.test_finance_controls import _audit_clean
from tests.functional.test_payouts_api import _credit, _drain, _register
from tests.functional.test_table_access import dynamodb_requests

RUN = "payout-2026-11"
BASE = f"/v1/admin/payout-runs/{RUN}"
TX_ITEMS = 100
"""TransactWriteItems' limit on items (and 4 MB on the whole request)."""
TX_BYTES = 4 * 1024 * 1024


class Crash(Exception):
    """The function died mid-request (a Lambda timeout)."""


def _citizen(n: int) -> str:
    return f"c{n:02d}"


def _amount(n: int) -> int:
    return 2000 + 10 * n


def _approved_run(api: Api, citizens: int) -> list[str]:
    """A November run paying `citizens` citizens (distinct amounts), started by fin-a and
    approved by fin-b."""
    ids = [_citizen(n) for n in range(citizens)]
    for n, who in enumerate(ids):
        _register(api, who)
        _credit(who, _amount(n), f"seed-{who}")
    start = api.call("POST", "/v1/admin/payout-runs", as_user="fin-a", roles=("finance",),
                     body={"period": "2026-11"})  # fmt: skip
    assert start.status == 201, start.body
    _drain(queues.PAYOUT_CHUNKS)
    approved = api.call("POST", f"{BASE}/approve", as_user="fin-b", roles=("finance",))
    assert approved.status == 200 and approved.body["status"] == "approved", approved.body
    assert approved.body["citizens"] == citizens
    return ids


def _settle(api: Api, who: str, paid: list[str], failed: list[str]) -> Any:
    got = api.call("POST", f"{BASE}/settle", as_user=who, roles=("finance",),
                   body={"paid": paid, "failed": failed})  # fmt: skip
    return got


def _entries(api: Api) -> list[dict[str, Any]]:
    """Every `payout_run.settle_item` entry of the run, read through the log's route."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.call("GET", f"/v1/admin/actions?target=run:{RUN}&limit=200{cursor}",
                        as_user="boss", admin=True)  # fmt: skip
        assert page.status == 200, page.body
        found += [a for a in page.body["actions"] if a["action"] == "payout_run.settle_item"]
        if not page.body["next_cursor"]:
            return found
        cursor = f"&cursor={page.body['next_cursor']}"


def _items(api: Api) -> dict[str, tuple[str, int, str | None]]:
    """Each item's (status, amount, settled_by), read from the table."""
    from chalicelib.adapters.dynamodb_models import PayoutItem

    return {
        i.citizen_id: (i.status, int(i.amount), i.settled_by)
        for i in PayoutItem.query(RUN, consistent_read=True)
    }


def _assert_one_entry_per_item_settled(api: Api) -> list[dict[str, Any]]:
    entries = _entries(api)
    items = _items(api)
    settled = {c: v for c, v in items.items() if v[0] != "pending"}
    per_citizen = Counter(e["detail"]["citizen_id"] for e in entries)
    assert all(n == 1 for n in per_citizen.values()), per_citizen.most_common(3)
    assert len(entries) == len(settled)
    for entry in entries:
        status, amount, settled_by = settled[entry["detail"]["citizen_id"]]
        assert entry["detail"]["outcome"] == status
        assert int(entry["detail"]["amount"]) == amount
        assert entry["actor"] == settled_by  # the entry names whoever's write settled it
        assert entry["target"] == f"run:{RUN}" and entry["roles"] == ["finance"]
    return entries


def test_replays_reorders_races_and_a_cut_leave_one_entry_per_item_settled(api: Api) -> None:
    from chalicelib import wiring

    ids = _approved_run(api, 56)
    paid, failed = ids[:50], ids[50:]
    service = wiring.payout_runs()
    store, ledger = service._store, service._ledger
    settle_paid, post = store.settle_paid, ledger.post
    shuffle = random.Random(22).sample

    # 1. A request cut short: its paid batch and one credit-back land, then it dies.
    posted = 0

    def dying(posting: Any) -> Any:
        nonlocal posted
        posted += 1
        if posted == 2:
            raise Crash()
        return post(posting)

    cut = (paid[5:35], failed[:3])
    ledger.post = dying  # type: ignore[method-assign]
    try:
        with pytest.raises(Crash):
            service.settle(RUN, Actor("fin-a", ("finance",)), *cut)
    finally:
        ledger.post = post  # type: ignore[method-assign]
    entries = _assert_one_entry_per_item_settled(api)
    assert len(entries) == 31  # 30 paid + the one credited back; no entry for the rest

    # 2. Races, with the lists reordered: between fin-b's read and its first paid batch,
    # fin-c settles an overlapping set; before fin-b's first credit-back, fin-d credits
    # the same citizen back.
    raced = (shuffle(paid[25:45], 20), [failed[1], failed[3]])
    racing_paid, racing_post = True, False

    def paid_meanwhile(settled: Any, now: Any) -> None:
        nonlocal racing_paid, racing_post
        if racing_paid:
            racing_paid = False
            service.settle(RUN, Actor("fin-c", ("finance",)), *raced)
            racing_post = True  # armed for fin-b's own first credit-back
        settle_paid(settled, now)

    def posted_meanwhile(posting: Any) -> Any:
        nonlocal racing_post
        if racing_post and posting.kind == "payout_reversal":
            racing_post = False
            service.settle(RUN, Actor("fin-d", ("finance",)), [], [posting.account.citizen_id])
        return post(posting)

    reordered = (list(reversed(paid[10:50])), list(reversed(failed)))
    store.settle_paid = paid_meanwhile  # type: ignore[method-assign]
    ledger.post = posted_meanwhile  # type: ignore[method-assign]
    try:
        got = _settle(api, "fin-b", *reordered)
    finally:
        store.settle_paid = settle_paid  # type: ignore[method-assign]
        ledger.post = post  # type: ignore[method-assign]
    assert got.status == 200, got.body
    assert not racing_paid and not racing_post
    # fin-b applied what neither the cut request nor the racers had settled
    assert got.body["unchanged"] == 25 + 1  # paid[10:35] and failed[0] settled before it
    entries = _assert_one_entry_per_item_settled(api)
    assert len(entries) == 45 + 6  # paid[5:50] and every failed item
    assert {e["actor"] for e in entries} == {"fin-a", "fin-b", "fin-c", "fin-d"}

    # 3. Replays of every request, in any order: nothing applied, nothing logged.
    for paid_list, failed_list in shuffle([cut, raced, reordered], 3):
        again = _settle(api, "fin-e", shuffle(paid_list, len(paid_list)), failed_list)
        assert again.status == 200 and again.body["applied"] == {"paid": 0, "failed": 0}
    assert len(_assert_one_entry_per_item_settled(api)) == 51

    # 4. The last request (everything, shuffled) settles the five left and the run.
    last = _settle(api, "fin-f", shuffle(paid, 50), shuffle(failed, 6))
    assert last.status == 200 and last.body["status"] == "settled", last.body
    assert last.body["applied"] == {"paid": 5, "failed": 0}
    entries = _assert_one_entry_per_item_settled(api)
    assert len(entries) == 56
    assert Counter(e["detail"]["outcome"] for e in entries) == {"paid": 50, "failed": 6}

    # A refused request (the other outcome, an unknown citizen) writes neither.
    assert _settle(api, "fin-g", [failed[0]], []).status == 409
    assert _settle(api, "fin-g", [], [paid[0]]).status == 409
    assert _settle(api, "fin-g", ["nobody"], []).status == 422
    assert len(_assert_one_entry_per_item_settled(api)) == 56

    # Money: each failed transfer credited back exactly once; invariants 2 and 3.
    for n, who in enumerate(ids):
        balance = api.call("GET", "/v1/me", as_user=who).body["balance"]
        assert balance == (_amount(n) if who in failed else 0), who
    _audit_clean(api)


def test_settlement_transactions_fit_dynamodb_and_their_requests(api: Api) -> None:
    """Items and bytes per transaction, and requests per settlement, for bench/RESULTS.md."""
    ids = _approved_run(api, PAID_BATCH + 3)
    one_paid, one_failed, batch = ids[0], ids[-1], ids[1:-1]
    assert len(batch) == PAID_BATCH + 1
    settlements = {
        "1 paid": ([one_paid], []),
        "1 failed": ([], [one_failed]),
        f"{len(batch)} paid": (batch, []),
        "replay of all": (ids[:-1], [one_failed]),
    }
    measured: dict[str, dict[str, Any]] = {}
    for name, (paid, failed) in settlements.items():
        with dynamodb_requests() as requests:
            got = _settle(api, "fin-a", paid, failed)
        assert got.status == 200, got.body
        measured[name] = {
            "calls": Counter(operation for operation, _ in requests),
            "transactions": [
                (len(p["TransactItems"]), len(json.dumps(p["TransactItems"]).encode()))
                for operation, p in requests
                if operation == "TransactWriteItems"
            ],
        }
    print("\nDynamoDB requests per settlement (TransactWriteItems as (items, bytes)):")
    for name, seen in measured.items():
        calls = dict(sorted(seen["calls"].items()))
        print(f"  {name}: {calls} = {sum(calls.values())}; {seen['transactions']}")
    every = [tx for seen in measured.values() for tx in seen["transactions"]]
    assert all(items <= TX_ITEMS and size < TX_BYTES // 40 for items, size in every), every
    # one paid: its mark, its entry, the run, two stats rows
    assert [items for items, _ in measured["1 paid"]["transactions"]] == [5]
    # one failed: the posting (guard, ledger, account, item, run) and its entry
    assert [items for items, _ in measured["1 failed"]["transactions"]] == [6]
    # 49 paid: a full batch of 48 (2 * 48 + 3 = 99 items), then one
    assert [items for items, _ in measured[f"{len(batch)} paid"]["transactions"]] == [99, 5]
    assert measured["replay of all"]["transactions"] == []
    assert measured["1 paid"]["calls"] == {"GetItem": 3, "BatchGetItem": 1,
                                           "TransactWriteItems": 1}  # fmt: skip
    assert set(measured["replay of all"]["calls"]) == {"GetItem", "BatchGetItem"}
    run = api.call("GET", BASE, as_user="fin-b", roles=("finance",)).body
    assert run["status"] == "settled"
    assert len(_assert_one_entry_per_item_settled(api)) == len(ids)
