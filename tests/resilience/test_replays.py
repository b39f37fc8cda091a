"""Every stream's records delivered three times, shuffled, in batches of random sizes, from
scratch: the ledger's (city totals, recycle challenges, their prizes) and the step days'
(boards, step challenges) end exactly as after one clean, ordered delivery of the same
events (two fresh stacks, compared table by table, guard times and generated ids aside)."""

from __future__ import annotations

import random
from typing import Any

from chalicelib import streams
from infra.local.dev_issuer import DevIssuer
from tests.resilience import leaks
from tests.resilience.conftest import REPORT
from tests.resilience.harness import CapturedLogs, Stack, fresh_stack
from tests.resilience.scenario import Runner, citizens, events, state

PEOPLE = citizens(12)
EVENTS = 300


def _play(issuer: DevIssuer, deliver: Any) -> dict[str, Any]:
    with fresh_stack(issuer) as stack:
        runner = Runner(stack, PEOPLE)
        runner.setup()
        # the events, with their streams held back
        runner.play(events(seed=31, people=PEOPLE, count=EVENTS, poison_share=0.0), pump=False)
        deliver(stack)
        stack.settle_streams()  # what the deliveries wrote in turn (prizes) goes through once
        return state(runner.challenges)


def _clean(stack: Stack) -> None:
    for source in streams.ALL_STREAMS:
        stack.pump(source)


def _three_times_shuffled(stack: Stack) -> None:
    rng = random.Random(4)
    for source in streams.ALL_STREAMS:
        records = stack.new_records(source)
        copies = [r for r in records for _ in range(3)]
        rng.shuffle(copies)
        REPORT["replays: records delivered (3x, shuffled)"] += len(copies)
        start = 0
        while start < len(copies):
            size = rng.randint(1, source.batch_size)
            # one batch may not hold a record twice (a shard never does): split at a repeat
            batch: list[dict[str, Any]] = []
            seen: set[str] = set()
            for record in copies[start : start + size]:
                number = record["dynamodb"]["SequenceNumber"]
                if number in seen:
                    break
                seen.add(number)
                batch.append(record)
            stack.deliver(source, batch)
            start += len(batch)
        assert not stack.tally.parked_batches and not stack.tally.function_errors


def test_streams_replayed_three_times_and_shuffled_end_as_one_clean_delivery(
    issuer: DevIssuer, logs: CapturedLogs
) -> None:
    clean = _play(issuer, _clean)
    replayed = _play(issuer, _three_times_shuffled)
    assert any("prize" in row for row in clean["ledger"])  # the replays met paid prizes
    differing = [name for name in clean if clean[name] != replayed[name]]
    assert not differing
    REPORT["replays: streams replayed"] = len(streams.ALL_STREAMS)
    assert not leaks.leaks("log lines", logs.lines, [p.phone_digits for p in PEOPLE])
