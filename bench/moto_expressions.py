"""`python -m bench.moto_expressions [--rounds N] [--profile]`: the cost of one
TransactWriteItems of 5 update items (the shapes a deposit credit sends: ADD/SET/REMOVE,
if_not_exists, list_append, version and limit conditions; the values change every
transaction) under `mock_aws`, with moto's own expression handling and with
infra/local/moto_expressions.py, in the same process. moto_transactions is installed in both.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from typing import Any

import boto3
from moto import mock_aws

from infra.local import moto_expressions, moto_transactions

REGION = "ap-northeast-2"


def _n(v: int) -> dict[str, str]:
    return {"N": str(v)}


def _s(v: str) -> dict[str, str]:
    return {"S": v}


def _items(i: int) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": _s("account")},
                "UpdateExpression": "SET #0 = :0, #1 = if_not_exists(#1, :1), #2 = :2 "
                "ADD #3 :3, #4 :4, #5 :5",
                "ConditionExpression": "(attribute_not_exists (#6) OR #6 = :6)",
                "ExpressionAttributeNames": {
                    "#0": "updated_at",
                    "#1": "created_at",
                    "#2": "version",
                    "#3": "balance",
                    "#4": "lifetime_earned",
                    "#5": "lifetime_paid",
                    "#6": "version",
                },
                "ExpressionAttributeValues": {
                    ":0": _s(f"2026-11-25T12:00:{i % 60:02d}"),
                    ":1": _s("2026-11-25"),
                    ":2": _n(i + 1),
                    ":3": _n(10),
                    ":4": _n(10),
                    ":5": _n(0),
                    ":6": _n(i),
                },
            }
        },
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": _s("link")},
                "UpdateExpression": "SET #0 = :0, #1 = :1 REMOVE #2",
                "ConditionExpression": "#3 = :2",
                "ExpressionAttributeNames": {
                    "#0": "account_version",
                    "#1": "account_balance",
                    "#2": "payout_bucket",
                    "#3": "citizen_id",
                },
                "ExpressionAttributeValues": {
                    ":0": _n(i + 1),
                    ":1": _n(10 * (i + 1)),
                    ":2": _s("c-1"),
                },
            }
        },
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": _s(f"day-{i // 50}")},
                "UpdateExpression": "SET #1 = :1 ADD #0 :0",
                "ConditionExpression": "attribute_not_exists (#2) OR #0 <= :2",
                "ExpressionAttributeNames": {"#0": "items", "#1": "expires", "#2": "day"},
                "ExpressionAttributeValues": {
                    ":0": _n(1),
                    ":1": _n(1_800_000_000 + i),
                    ":2": _n(99),
                },
            }
        },
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": _s(f"history-{i}")},
                "UpdateExpression": "SET #0 = list_append(if_not_exists(#0, :0), :1)",
                "ExpressionAttributeNames": {"#0": "recent"},
                "ExpressionAttributeValues": {":0": {"L": []}, ":1": {"L": [_n(i)]}},
            }
        },
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": _s("total")},
                "UpdateExpression": "SET #4 = :4 ADD #0 :0, #1 :1, #2 :2, #3 :3",
                "ExpressionAttributeNames": {
                    "#0": "points_issued",
                    "#1": "points_paid",
                    "#2": "items_recycled",
                    "#3": "entries",
                    "#4": "expires",
                },
                "ExpressionAttributeValues": {
                    ":0": _n(10),
                    ":1": _n(0),
                    ":2": _n(1),
                    ":3": _n(1),
                    ":4": _n(1_800_000_000 + i),
                },
            }
        },
    ]


def run(rounds: int, profile: bool = False) -> float:
    """Median seconds per transaction over `rounds` transactions after 20 warm-up ones."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        ddb.put_item(TableName="t", Item={"pk": _s("link"), "citizen_id": _s("c-1")})
        for i in range(20):
            ddb.transact_write_items(TransactItems=_items(i))
        # the call into the backend alone, without botocore and moto's HTTP layer
        backend = _backend()
        times = []
        profiler = cProfile.Profile() if profile else None
        for i in range(20, 20 + rounds):
            items = _items(i)
            if profiler:
                profiler.enable()
            start = time.perf_counter()
            backend.transact_write_items(items)
            times.append(time.perf_counter() - start)
            if profiler:
                profiler.disable()
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        return statistics.median(times)


def _backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    moto_transactions.install()
    figures: dict[str, Any] = {}
    for label in ("moto", "patched", "moto", "patched"):
        if label == "patched":
            moto_expressions.install()
        else:
            moto_expressions.uninstall()
        figures.setdefault(label, []).append(run(args.rounds, profile=args.profile))
    for label, values in figures.items():
        ms = min(values) * 1000
        print(f"{label:8s} {ms:7.3f} ms per 5-update transaction (best of {len(values)} medians)")
    print(f"speed-up {min(figures['moto']) / min(figures['patched']):.2f}x")


if __name__ == "__main__":
    main()
