"""What the step boards cost in DynamoDB: `python -m bench.ranks [--members N ...]`.

On moto's in-process `mock_aws` (the same tables as AWS, from the models):
- a stream batch: the real `handle_step_boards` on a real step-stream event, for one record,
  a batch of 100 first syncs (100 citizens, 19 districts), the same 100 raising their
  counts, and that batch replayed;
- "my rank" and the top 10 on a board of 1,000 and of 200,000 members. The large board is
  built directly through the adapter (BatchWriteItem of entries, one ADD per tree node),
  not by replaying 200,000 stream records; ranks read from the tree are checked against a
  sort of the same scores.

Requests (and the items in them) are counted by a handler on botocore's event system,
`before-call.dynamodb.*`, registered on the container's one DynamoDB client (the client
PynamoDB and the raw reads share). Capacity units come from bench/dynamodb_costs.py's Meter
(moto's ConsumedCapacity is a placeholder): the write side is run a second time, on fresh
tables, under the Meter, whose own look-ups would otherwise be counted as requests; reads
change nothing, so they are metered on the same board.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

REGION = "ap-northeast-2"
DAY = date(2026, 11, 25)
BOARD = f"day#{DAY.isoformat()}#city"


class RequestCounter:
    """DynamoDB requests by operation, and the items they carry, from botocore's events."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items: Counter[str] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        operation = model.name
        self.requests[operation] += 1
        body = params.get("body") or b"{}"
        request = json.loads(body if isinstance(body, str) else body.decode("utf-8"))
        if operation == "TransactWriteItems":
            self.items[operation] += len(request["TransactItems"])
        elif operation == "BatchGetItem":
            self.items[operation] += sum(len(r["Keys"]) for r in request["RequestItems"].values())
        elif operation == "BatchWriteItem":
            self.items[operation] += sum(len(r) for r in request["RequestItems"].values())

    def summary(self, per: int = 1) -> dict[str, Any]:
        total = sum(self.requests.values())
        return {
            "requests": round(total / per, 2),
            "by_operation": dict(sorted(self.requests.items())),
            "items_in_batches": dict(sorted(self.items.items())),
        }


@contextmanager
def counting() -> Iterator[RequestCounter]:
    from chalicelib.adapters import aws_clients

    counter = RequestCounter()
    events = aws_clients.client("dynamodb").meta.events
    events.register("before-call.dynamodb.*", counter, unique_id="bench-ranks")
    try:
        yield counter
    finally:
        events.unregister("before-call.dynamodb.*", unique_id="bench-ranks")


@contextmanager
def emulator() -> Iterator[dict[str, str]]:
    """Fresh in-process moto with every table and stream of the app."""
    from moto import mock_aws

    from chalicelib import wiring

    with mock_aws():
        import boto3

        from infra.local import provision

        wiring.clear()
        provision.create_tables()
        environment = provision.stream_environment(boto3.client("dynamodb", region_name=REGION))
        os.environ.update(environment)
        yield environment
        wiring.clear()


def _step_stream() -> dict[str, Any]:
    import boto3
    import botocore.config

    from chalicelib import streams
    from infra.local.stream_source import stream_event

    client = boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        config=botocore.config.Config(account_id_endpoint_mode="disabled"),
    )
    return stream_event(client, os.environ[streams.STEP_BOARDS.arn_variable], REGION)


def _sync(citizen_id: str, steps: int, district: str) -> None:
    from chalicelib.adapters.dynamodb_models import StepDay

    StepDay(
        citizen_id,
        DAY.isoformat(),
        steps=steps,
        district=district,
        display_name=f"walker {citizen_id}",
        updated_at=datetime.now(UTC),
        expires=datetime(2027, 6, 1, tzinfo=UTC),
    ).save()


def _invoke(event: dict[str, Any]) -> None:
    from app import handle_step_boards
    from infra.local.lambda_runtime import LambdaContext

    result = handle_step_boards(event, LambdaContext("step-boards"))
    assert result == {"batchItemFailures": []}, result


def _stream_batches(measure: Callable[[str, int, Callable[[], None]], None]) -> None:
    """The write-side scenarios, each measured by `measure(label, records, run)`."""
    from chalicelib.domain.districts import districts

    codes = sorted(districts())
    seen = 0

    def new_records() -> dict[str, Any]:
        nonlocal seen
        records = _step_stream()["Records"]
        fresh, seen = records[seen:], len(records)
        return {"Records": fresh}

    _sync("solo", 7_000, codes[0])
    measure("1 record (first sync of the day)", 1, lambda: _invoke(new_records()))
    for i in range(100):
        _sync(f"c{i:03d}", 1_000 + 17 * i, codes[i % len(codes)])
    first = new_records()
    measure("batch of 100 first syncs (19 districts)", 100, lambda: _invoke(first))
    for i in range(100):
        _sync(f"c{i:03d}", 5_000 + 31 * i, codes[i % len(codes)])
    raised = new_records()
    measure("batch of 100 raised counts", 100, lambda: _invoke(raised))
    measure("the same batch replayed", 100, lambda: _invoke(raised))


def bench_stream() -> dict[str, Any]:
    """Requests counted on botocore's events, then capacity units metered on fresh tables
    (`stream_capacity`); the two passes must agree on the requests."""
    results: dict[str, Any] = {}
    with emulator():

        def count(label: str, records: int, run: Callable[[], None]) -> None:
            with counting() as counter:
                run()
            results[label] = {"records": records, **counter.summary()}
            if records > 1:
                results[label]["requests_per_record"] = round(
                    sum(counter.requests.values()) / records, 3
                )

        _stream_batches(count)
    for label, cost in stream_capacity().items():
        metered = {
            k: cost[k] for k in ("dynamodb_requests", "rru", "wru", "wru_of_indexes", "item_bytes")
        }
        assert metered["dynamodb_requests"] == results[label]["requests"], (label, cost)
        results[label]["capacity"] = metered
    return results


def stream_capacity() -> dict[str, dict[str, Any]]:
    """The stream scenarios metered (bench/dynamodb_costs.py) on fresh tables: per scenario,
    the whole batch's requests, units, calls and largest items, and its `records`."""
    from bench.dynamodb_costs import metering
    from chalicelib import config
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_models import ALL_MODELS, logical_name

    results: dict[str, dict[str, Any]] = {}
    with emulator(), metering() as meter:
        meter.prime(
            aws_clients.client("dynamodb"), [config.table_name(logical_name(m)) for m in ALL_MODELS]
        )

        def units(label: str, records: int, run: Callable[[], None]) -> None:
            meter.reset()
            run()
            tally = meter.reset().as_dict()
            results[label] = {
                "records": records,
                "dynamodb_requests": tally["dynamodb_requests"],
                "rru": tally["rru"],
                "wru": tally["wru"],
                "wru_of_indexes": tally["wru_of_indexes"],
                "by_operation": {
                    op: n for op, n in tally["by_operation"].items() if op.startswith("dynamodb:")
                },
                "item_bytes": tally["item_bytes"],
            }

        _stream_batches(units)
    return results


def bench_ranks(members: int, seed: int = 11) -> dict[str, Any]:
    from bench.dynamodb_costs import item_size, metering
    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_boards import DynamoDbBoards
    from chalicelib.domain import boards

    rng = random.Random(seed)
    scores = [min(int(rng.lognormvariate(8.8, 0.6)), 100_000) for _ in range(members)]
    scores[: members // 50] = [0] * (members // 50)  # some synced zero
    entries = [
        boards.Entry(BOARD, f"m{i:07d}", {DAY.isoformat(): s}, f"walker {i}", "k", 1)
        for i, s in enumerate(scores)
    ]
    result: dict[str, Any] = {"members": members}
    with emulator():
        started = time.perf_counter()
        DynamoDbBoards().load(entries)
        result["build_seconds"] = round(time.perf_counter() - started, 1)
        ordered = sorted(scores, reverse=True)
        first_above: dict[int, int] = {}
        for position, score in enumerate(ordered, start=1):
            first_above.setdefault(score, position)
        service = wiring.boards()
        probes = {
            "best": max(range(members), key=lambda i: scores[i]),
            "median": sorted(range(members), key=lambda i: scores[i])[members // 2],
            "a zero": 0,
            "random": rng.randrange(members),
        }
        reads: dict[str, Any] = {}
        for label, index in probes.items():
            with counting() as counter:
                mine = service.standing(BOARD, f"m{index:07d}")
            assert mine.rank == first_above[scores[index]], (label, mine, scores[index])
            reads[label] = {"rank": mine.rank, "steps": mine.steps, **counter.summary()}
        with counting() as counter:
            top = service.leaders(BOARD, 10)
        assert [r.steps for r in top] == ordered[:10]
        result["top 10"] = counter.summary()
        with metering() as meter:
            meter.reset()
            service.standing(BOARD, f"m{probes['median']:07d}")
            rank_cost = meter.reset().as_dict()
            service.leaders(BOARD, 10)
            leaders = meter.reset().as_dict()
        result["my rank"] = reads
        result["my rank capacity (median member)"] = rank_cost
        result["top 10 capacity"] = leaders
        nodes = [n for n, _ in boards.tree_path(BOARD, scores[probes["median"]])]
        result["tree nodes on the median's path (counters)"] = {
            n: len(c) for n, c in DynamoDbBoards().nodes(nodes).items()
        }
        result["largest of those nodes (bytes)"] = max(
            item_size(raw) for raw in DynamoDbBoards._batch_get_raw(nodes).values()
        )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ranks", description=__doc__)
    parser.add_argument("--members", type=int, nargs="*", default=[1_000, 200_000])
    args = parser.parse_args(argv)

    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    report: dict[str, Any] = {"stream": bench_stream()}
    for members in args.members:
        report[f"board of {members:,}"] = bench_ranks(members)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
