"""`python -m bench.payout_run`: a payout run over N eligible citizens (default 20,000) on one
local stack, end to end: `POST /v1/admin/payout-runs` over HTTP, the chunks through the real
SQS queue, poller and Chalice handler, the postings on moto server; then the proof that
nobody was paid twice, a redelivery of every chunk chain that changes nothing, the transfer
file, and the DynamoDB requests per citizen paid (counted at the botocore layer).

`--costs` instead meters one run of `--citizens` (default 1,000) on moto's in-process
`mock_aws` with bench.dynamodb_costs (requests, read and write units per citizen paid).

The citizens are seeded straight into the emulator's tables (as bench/throughput.py fills
them): a citizen with a balance over the threshold, the ledger entry that credited it, and a
payout account whose number is encrypted under the citizen's encryption context by the
emulator's own KMS. Seeding writes no stream records (as if the credits were long past).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "ap-northeast-2"


def _seed_one(backend: Any, kms: Any, key_id: str, citizen_id: str, n: int, now: datetime) -> int:
    import base64

    from chalicelib.adapters import dynamodb_models as m
    from chalicelib.adapters.dynamodb_ledger import payout_bucket
    from chalicelib.domain.ledger import ledger_entry_id
    from chalicelib.domain.payout_accounts import encryption_context

    points = 2000 + n % 1000
    citizen = m.Citizen(
        citizen_id, display_name="bench", district="naeoe-dong", balance=points,
        lifetime_earned=points, lifetime_paid=0, payout_bucket=payout_bucket(citizen_id),
        created_at=now, updated_at=now, version=1,
    )  # fmt: skip
    entry = m.LedgerEntry(
        citizen_id, ledger_entry_id(0, now), kind="recycling", points=points,
        balance_after=points, created_at=now, source_key=f"seed-{citizen_id}", detail={},
    )  # fmt: skip
    number = f"{n:012d}"
    blob, _ = kms.encrypt(key_id, number.encode(), encryption_context(citizen_id))
    account = m.PayoutAccount(
        citizen_id, bank_code="011", account_ciphertext=base64.b64encode(blob).decode(),
        account_last4=number[-4:], holder="김 벤치", updated_at=now,
    )  # fmt: skip
    for item in (citizen, entry, account):
        backend.put_item(item.Meta.table_name, item.serialize())
    return points


def seed(citizens: int, key_id: str, prefix: str = "bench") -> int:
    """Eligible citizens with accounts, straight into the emulator; the points they hold."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.kms.models import kms_backends

    from chalicelib.adapters import dynamodb_models as m
    from infra.local.moto_transactions import LOCK

    backend = dynamodb_backends[ACCOUNT][REGION]
    kms = kms_backends[ACCOUNT][REGION]
    now = datetime.now(UTC)
    held = 0
    tables = [m.Citizen.Meta.table_name, m.LedgerEntry.Meta.table_name]
    for start in range(0, citizens, 500):
        with LOCK:  # in slices, streams paused only within each (their pollers go on)
            shards = {t: backend.get_table(t).stream_shard for t in tables}
            for t in tables:
                backend.get_table(t).stream_shard = None
            try:
                for n in range(start, min(citizens, start + 500)):
                    held += _seed_one(backend, kms, key_id, f"{prefix}-{n:07d}", n, now)
            finally:
                for t, shard in shards.items():
                    backend.get_table(t).stream_shard = shard
    return held


@contextlib.contextmanager
def counting() -> Iterator[Counter[str]]:
    """DynamoDB requests by operation, counted at the botocore layer (no extra requests)."""
    import botocore.client

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: Any) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            with lock:
                calls[operation] += 1
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = counted
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


def _http(api: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            raw = response.read()
            ctype = response.headers.get("Content-Type", "")
            return response.status, raw if ctype.startswith("text/csv") else json.loads(raw)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _wait_ready(api: str, token: str, run_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        _, run = _http(api, "GET", f"/v1/admin/payout-runs/{run_id}", token)
        if run.get("status") == "ready" or time.monotonic() > deadline:
            return dict(run)
        time.sleep(1.0)


def verify(prefix: str, citizens: int, run_id: str) -> dict[str, Any]:
    """Straight from the emulator's tables: every seeded citizen paid exactly once, their
    whole balance, one payout item each, and balance == sum(ledger) for all of them."""
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.adapters import dynamodb_models as m

    backend = dynamodb_backends[ACCOUNT][REGION]
    payouts: Counter[str] = Counter()
    sums: Counter[str] = Counter()
    paid_points = 0
    for item in backend.get_table(m.LedgerEntry.Meta.table_name).all_items():
        raw = item.to_json()["Attributes"]
        citizen = raw["citizen_id"]["S"]
        if not citizen.startswith(prefix):
            continue
        sums[citizen] += int(raw["points"]["N"])
        if raw["kind"]["S"] == "payout":
            payouts[citizen] += 1
            paid_points -= int(raw["points"]["N"])
    balances = {}
    for item in backend.get_table(m.Citizen.Meta.table_name).all_items():
        raw = item.to_json()["Attributes"]
        if raw["citizen_id"]["S"].startswith(prefix):
            balances[raw["citizen_id"]["S"]] = int(raw["balance"]["N"])
    items = [
        i
        for i in backend.get_table(m.PayoutItem.Meta.table_name).all_items()
        if i.to_json()["Attributes"]["run_id"]["S"] == run_id
    ]
    return {
        "citizens_paid": len(payouts),
        "paid_twice": sum(1 for n in payouts.values() if n > 1),
        "payout_items": len(items),
        "points_paid": paid_points,
        "balances_not_zero": sum(1 for b in balances.values() if b != 0),
        "balance_not_ledger_sum": sum(1 for c, b in balances.items() if b != sums[c]),
        "all_seeded_paid_once": len(payouts) == citizens and max(payouts.values()) == 1,
    }


def run_local(citizens: int, timeout_s: float) -> dict[str, Any]:
    """The run on one in-process local stack (moto server, real pollers and handlers)."""
    import os

    from infra.local.stack import LocalStack, StackOptions, free_port

    state = Path(tempfile.mkdtemp(prefix="gimhae-bench-payout-"))
    options = StackOptions(
        state_dir=state,
        api_port=free_port(),
        aws_port=free_port(),
        mqtt_port=free_port(),
        emulator_process=False,  # reads and writes moto's memory in this process
        lambda_workers=0,  # the handlers' requests are counted in this process
    )
    stack = LocalStack(options)
    report: dict[str, Any] = {"eligible_citizens": citizens}
    try:
        document = stack.start()
        api = document["api_url"]
        from infra.local.dev_issuer import ensure_issuer

        admin = ensure_issuer(state).mint("bench-admin", admin=True)
        checker = ensure_issuer(state).mint("bench-checker", admin=True)  # the second person
        t = time.monotonic()
        held = seed(citizens, os.environ["PAYOUT_KMS_KEY_ID"])
        report["seed_s"] = round(time.monotonic() - t, 1)
        _progress(report)
        from chalicelib.domain.clock import SEOUL
        from chalicelib.domain.payout_runs import Period

        period = str(Period.of(datetime.now(SEOUL).date()).previous)  # the month that ended
        with counting() as calls:
            t = time.monotonic()
            status, started = _http(api, "POST", "/v1/admin/payout-runs", admin, {"period": period})
            assert status == 201, started
            run = _wait_ready(api, admin, started["run_id"], timeout_s)
            elapsed = time.monotonic() - t
        report["run"] = {
            "status": run["status"],
            "seconds": round(elapsed, 1),
            "citizens_per_s": round(run["citizens"] / elapsed, 1) if elapsed else None,
            "chunks": run["chunks"],
            "citizens": run["citizens"],
            "total_points": run["total_points"],
            "points_seeded": held,
            "skipped": run["skipped"],
        }
        total = sum(calls.values())
        report["dynamodb_requests"] = {
            "by_operation": dict(sorted(calls.items())),
            "total": total,
            "per_citizen_paid": round(total / max(1, run["citizens"]), 3),
        }
        report["verified"] = verify("bench-", citizens, started["run_id"])
        _progress(report)
        # Every chunk chain delivered again (a redelivery storm): nothing may change.
        from chalicelib import wiring
        from chalicelib.services.chunk_jobs import ChunkRef
        from chalicelib.services.payout_runs import PAYOUT_BUCKETS

        t = time.monotonic()
        wiring.payout_runs()._queue.send(
            [ChunkRef("payout", started["run_id"], f"{b:02d}") for b in range(PAYOUT_BUCKETS)]
        )
        _http(api, "POST", "/v1/admin/payout-runs", admin, {"period": period})
        time.sleep(5)
        deadline = time.monotonic() + timeout_s
        while _queue_depth(stack) and time.monotonic() < deadline:
            time.sleep(1)
        report["redelivered_s"] = round(time.monotonic() - t, 1)
        report["verified_after_redelivery"] = verify("bench-", citizens, started["run_id"])
        _progress(report)
        approve = f"/v1/admin/payout-runs/{started['run_id']}/approve"
        report["approve_status"] = _http(api, "POST", approve, checker)[0]
        t = time.monotonic()
        try:
            path = f"/v1/admin/payout-runs/{started['run_id']}/export"
            status, body = _http(api, "GET", path, admin)
        except OSError as e:
            report["export"] = {"error": repr(e), "seconds": round(time.monotonic() - t, 1)}
        else:
            report["export"] = {
                "status": status,
                "seconds": round(time.monotonic() - t, 1),
                "rows": body.count(b"\n") - 1 if isinstance(body, bytes) else None,
                "bytes": len(body) if isinstance(body, bytes) else None,
            }
    finally:
        stack.stop()
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends[ACCOUNT][REGION].reset()
        shutil.rmtree(state, ignore_errors=True)
    return report


def _progress(report: dict[str, Any]) -> None:
    print(json.dumps(report, ensure_ascii=False), file=sys.stderr, flush=True)


def _queue_depth(stack: Any) -> int:
    from chalicelib import queues

    url = stack.queue_refs[queues.PAYOUT_CHUNKS.name].url
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def costs(citizens: int) -> dict[str, Any]:
    """One run metered on `mock_aws`: DynamoDB requests and capacity units per citizen paid."""
    import boto3
    from moto import mock_aws

    from bench.dynamodb_costs import metering
    from chalicelib import queues, wiring
    from infra.local import provision
    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench-phone-key")
    with mock_aws():
        import os

        wiring.clear()
        provision.create_tables()
        sqs = boto3.client("sqs", region_name=REGION)
        provision.create_queues(sqs)
        provision.create_notifications(
            boto3.client("sns", region_name=REGION), boto3.client("s3", region_name=REGION)
        )
        os.environ["PAYOUT_KMS_KEY_ID"] = provision.create_data_key(
            boto3.client("kms", region_name=REGION)
        )
        seed(citizens, os.environ["PAYOUT_KMS_KEY_ID"])
        from chalicelib.domain.clock import SEOUL
        from chalicelib.domain.payout_runs import Period
        from chalicelib.domain.staff_actions import Actor
        from chalicelib.services.chunk_jobs import ChunkRef

        service = wiring.payout_runs()
        now = datetime.now(UTC)
        url = sqs.get_queue_url(QueueName=queues.PAYOUT_CHUNKS.name)["QueueUrl"]
        with metering() as meter:
            last_month = Period.of(now.astimezone(SEOUL).date()).previous
            run = service.start_run(last_month, Actor("bench", ("finance",)))
            chunks = 0
            while True:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    break
                for message in got:
                    body = json.loads(message["Body"])
                    service.pay_chunk(
                        ChunkRef("payout", body["job_id"], body["part"], body["start"])
                    )
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    chunks += 1
            tally = meter.reset().as_dict()
        done = service.run(run.run_id)
        paid = done.citizens
        wiring.clear()
    by_operation = {k: v for k, v in tally["by_operation"].items() if "dynamodb" in k}
    return {
        "citizens_paid": paid,
        "chunks": chunks,
        "status": done.status,
        "dynamodb_requests": tally["dynamodb_requests"],
        "requests_per_citizen_paid": round(tally["dynamodb_requests"] / paid, 3),
        "rru_per_citizen_paid": round(tally["rru"] / paid, 2),
        "wru_per_citizen_paid": round(tally["wru"] / paid, 2),
        "by_operation": by_operation,
        # The same per citizen paid, in bench/results.py's per-event shape (the calls and
        # the largest items are the whole run's).
        "per_citizen_paid": {
            "dynamodb_requests": round(tally["dynamodb_requests"] / paid, 2),
            "rru": round(tally["rru"] / paid, 2),
            "wru": round(tally["wru"] / paid, 2),
            "wru_of_indexes": round(tally["wru_of_indexes"] / paid, 2),
            "by_operation": by_operation,
            "item_bytes": tally["item_bytes"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=None)
    parser.add_argument("--costs", action="store_true")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    if args.costs:
        report = costs(args.citizens or 1000)
    else:
        report = run_local(args.citizens or 20_000, args.timeout)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
