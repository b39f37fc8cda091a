"""Throttling and internal errors on 5 % of the app's DynamoDB and iot-data calls, during
mixed events driven through the real handlers, each failed delivery re-invoked as Lambda or
a client would: the outcome is the fault-free run's, and invariants 1-5 hold.

500 events by default (~200 faults injected, ~25 of them after a write committed, ~20 s);
`RESILIENCE_EVENTS=2000` plays the big run (~650 faults, about a minute)."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from chalicelib import queues, streams
from infra.local.dev_issuer import DevIssuer
from tests.resilience import leaks
from tests.resilience.conftest import REPORT
from tests.resilience.faults import FaultInjector
from tests.resilience.harness import CapturedLogs, Stack, fresh_stack
from tests.resilience.scenario import (
    Runner,
    citizens,
    decoded_payloads,
    events,
    quarantine_text,
    recomputed_boards,
    state,
    table,
)

EVENTS = int(os.environ.get("RESILIENCE_EVENTS", "500"))
PEOPLE = citizens(24)


def _run(issuer: DevIssuer, faults: FaultInjector | None) -> tuple[dict[str, Any], Any]:
    with fresh_stack(issuer, faults) as stack:
        started = time.monotonic()
        runner = Runner(stack, PEOPLE)
        stack.faults.enabled = True
        runner.setup()
        runner.play(events(seed=12, people=PEOPLE, count=EVENTS, poison_share=0.01))
        stack.faults.enabled = False
        played = time.monotonic()
        check_invariants(stack, runner)
        print(f"played in {played - started:.1f} s, checked in {time.monotonic() - played:.1f} s")
        print({k: round(v, 1) for k, v in stack.tally.seconds.items()})
        return state(runner.challenges), (stack, runner, _texts(stack))


def _texts(stack: Stack) -> dict[str, list[str]]:
    quarantined = [quarantine_text(q) for q in table("quarantine")]
    dead = []
    for spec in queues.ALL_QUEUES:
        dead += stack.dead_letters(spec.dlq_name)
    for source in streams.ALL_STREAMS:
        dead += stack.dead_letters(source.failure_queue_name)
    return {"quarantine": quarantined, "dead letters": decoded_payloads(dead)}


def check_invariants(stack: Stack, runner: Runner) -> None:
    # 2. balance == sum(ledger) >= 0 for every citizen, and each entry's balance_after is the
    # running sum in entry order.
    entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in table("ledger"):
        entries[entry["citizen_id"]].append(entry)
    balances = {c["citizen_id"]: int(c["balance"]) for c in table("citizens")}
    for citizen_id, balance in balances.items():
        mine = sorted(entries[citizen_id], key=lambda e: e["entry_id"])
        assert balance == sum(int(e["points"]) for e in mine) >= 0, citizen_id
        running = 0
        for e in mine:
            running += int(e["points"])
            assert int(e["balance_after"]) == running, (citizen_id, e["entry_id"])
    # 1. exactly once: one ledger entry per guard
    sources = Counter(e["source_key"] for mine in entries.values() for e in mine)
    doubled = {k: n for k, n in sources.items() if n > 1}
    assert not doubled
    # 3. issued == paid + held + pending (no payout run: nothing paid or pending)
    stats = runner.ok("GET", "/v1/admin/stats", as_user="ops", admin=True)
    assert stats["points_issued"] == stats["points_paid"] + sum(balances.values())
    assert stats["points_held"] == sum(balances.values())
    assert stats["ledger_entries"] == sum(sources.values())
    # 4. every board equals its recomputation from the stored step days
    for back in range(4):
        day = runner.today - timedelta(days=back)
        want = recomputed_boards(day)
        board = runner.ok(
            "GET", f"/v1/leaderboards/steps?period=day&date={day}&limit=100", as_user="c-00"
        )
        assert [e["steps"] for e in board["entries"]] == want["steps"], day
        districts = runner.ok("GET", f"/v1/leaderboards/districts?period=day&date={day}")
        got = {e["district"]: e["steps"] for e in districts["entries"] if e["steps"]}
        assert got == {k: v for k, v in want["districts"].items() if v}, day
        for who, steps in list(want["me"].items())[:6]:
            me = runner.ok("GET", f"/v1/leaderboards/steps?period=day&date={day}", as_user=who)
            assert me["me"]["steps"] == steps
    # 5. every refused message is in quarantine with its reason; nothing parked
    reasons = Counter(q["reason"] for q in table("quarantine"))
    for reason, sent in runner.poison_sent.items():
        assert reasons[reason] >= sent, (reason, reasons)
    assert not stack.tally.parked_batches
    assert not stack.dead_letters(queues.DEPOSITS.dlq_name)


def test_faults_lose_nothing_and_double_nothing(issuer: DevIssuer, logs: CapturedLogs) -> None:
    # GIVEN the same events played once without faults
    clean, _ = _run(issuer, None)
    # WHEN they are played again with 5 % of DynamoDB and iot-data calls failing
    faults = FaultInjector(seed=5, rate=0.05)
    faulty, (stack, runner, texts) = _run(issuer, faults)
    # THEN faults were met and retried, and the outcome is the fault-free one, table by table
    assert faults.total >= 100
    # (rows of the fault-free run missing, rows the faulty run has in excess) per table
    differences = {
        name: (
            sorted((Counter(clean[name]) - Counter(faulty[name])).elements()),
            sorted((Counter(faulty[name]) - Counter(clean[name])).elements()),
        )
        for name in clean
        if faulty[name] != clean[name]
    }
    lost = len(differences.get("processed-events", ([], []))[0])
    doubled = len(differences.get("ledger", ([], []))[1])
    assert (lost, doubled) == (0, 0)
    assert not differences, {k: (a[:3], b[:3]) for k, (a, b) in differences.items()}
    credited = [r for r in faulty["processed-events"] if '"credited"' in r]
    REPORT["faults: events played"] = EVENTS
    REPORT["faults: DynamoDB/iot-data calls seen"] = sum(faults.calls.values())
    REPORT["faults: injected"] = faults.total
    REPORT["faults: injected after commit"] = sum(
        n for (_, _, code), n in faults.injected.items() if "after commit" in code
    )
    REPORT["faults: guarded events credited"] = len(credited)
    REPORT["faults: events lost"] = lost
    REPORT["faults: events doubled"] = doubled
    REPORT["faults: API retries"] = sum(stack.tally.api_retries.values())
    REPORT["faults: poison messages among them"] = sum(runner.poison_sent.values())
    REPORT["faults: quarantine entries"] = len(texts["quarantine"])
    REPORT["faults: SQS redeliveries"] = sum(stack.tally.redelivered.values())
    REPORT["faults: stream function errors retried"] = sum(stack.tally.function_errors.values())
    for kind, found in (
        ("log lines", leaks.leaks("log lines", logs.lines, _known())),
        ("quarantine entries", leaks.leaks("quarantine entries", texts["quarantine"], _known())),
        ("dead-letter bodies", leaks.leaks("dead-letter bodies", texts["dead letters"], _known())),
    ):
        assert not found, (kind, found[:3])


def _known() -> list[str]:
    numbers = [p.phone_digits for p in PEOPLE]
    numbers += [p.account_number.replace("-", "") for p in PEOPLE if p.account_number]
    return numbers
