"""`python -m bench --table-scaling`: what one deposit credit costs as the tables grow, on
moto's own TransactWriteItems (it deep-copies each touched table per transaction item) and
with infra/local/moto_transactions.py installed (rollback by key), side by side in one run;
and how long the local stack takes to stop with that many rows.

Rows are written straight into the emulator's tables (and, for the ledger, its stream), the
way a long-running stack accumulates them; the credit runs through the real service
(`wiring.recycling().handle_rule_message`, one 4-item TransactWriteItems) on `mock_aws`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"


def _credit_tables() -> list[str]:
    from chalicelib.adapters.dynamodb_models import (
        Citizen,
        CitizenDay,
        DepositCode,
        LedgerEntry,
        ProcessedEvent,
    )

    return [
        m.Meta.table_name for m in (Citizen, LedgerEntry, ProcessedEvent, CitizenDay, DepositCode)
    ]


def fill(rows: int) -> None:
    """`rows` filler items in each table a credit touches, written by the backend."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[ACCOUNT][REGION]
    for name in _credit_tables():
        table = backend.get_table(name)
        for n in range(rows):
            attrs: dict[str, Any] = {
                table.hash_key_attr: {"S": f"filler-{n:06d}"},
                "note": {"S": "filler row of a long-running stack"},
                "points": {"N": str(n % 100)},
            }
            if table.range_key_attr is not None:
                attrs[table.range_key_attr] = {"S": f"{n:012d}"}
            backend.put_item(name, attrs)


def _patched(on: bool) -> None:
    from infra.local import moto_transactions

    if on:
        moto_transactions.install()
    else:
        moto_transactions.uninstall()


def credit_cost(rows: int, patched: bool, credits: int) -> dict[str, Any]:
    from moto import mock_aws

    from bench.__main__ import _payload

    _patched(patched)
    with mock_aws():
        import boto3

        from chalicelib import wiring
        from chalicelib.events import intake
        from infra.local import provision

        provision.create_tables()
        provision.create_queues(boto3.client("sqs", region_name=REGION))
        provision.register_devices(provision.load_fleet())
        from bench.phones import register_in_process

        register_in_process("bench", "b", "01090000002")
        service = wiring.recycling()
        warm_up = intake.deposit_payload("robot-001", _payload("warm-up-0001"))
        service.receive(warm_up)  # caches: device, clients
        fill(rows)
        samples = []
        for n in range(credits):
            t = time.perf_counter()
            service.receive(intake.deposit_payload("robot-001", _payload(f"scale-{rows}-{n:04d}")))
            samples.append((time.perf_counter() - t) * 1000)
        _clear_caches()
    return {"credit_ms_median": round(statistics.median(samples), 1), "credits": credits}


def _clear_caches() -> None:
    from chalicelib import wiring

    wiring.clear()


def _writer(endpoint: str, table: str, ledger: str, n: int, stopping: Any) -> None:
    """A client that keeps committing small transactions (like API calls and deposits)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=600),
    )
    i = 0
    while not stopping.is_set():
        i += 1
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"event_key": {"S": f"load-{n}-{i}"}}}},
                    {
                        "Put": {
                            "TableName": ledger,
                            "Item": {"citizen_id": {"S": f"load-{n}"}, "entry_id": {"S": str(i)}},
                        }
                    },
                ]
            )
        except Exception:
            return


def stack_stop(rows: int, patched: bool, writers: int = 3) -> dict[str, Any]:
    """Start the local stack in this process, fill it, keep `writers` clients committing
    transactions, and time `LocalStack.stop()` step by step: ThreadedMotoServer.stop()
    returns only when every request in flight has been answered (werkzeug's serve_forever
    ends in server_close(), which joins the request threads)."""
    import shutil
    import threading

    from infra.local.stack import LocalStack, StackOptions, free_port

    state = Path(tempfile.mkdtemp(prefix="gimhae-bench-scale-"))
    stack = LocalStack(
        StackOptions(
            state_dir=state,
            api_port=free_port(),
            aws_port=free_port(),
            mqtt_port=free_port(),
            emulator_process=False,  # reads and writes moto's memory in this process
        )
    )
    try:
        stack.start()
        _patched(patched)  # start() installs the patch; the "moto" column takes it off again
        fill(rows)
        stopping = threading.Event()
        endpoint = f"http://127.0.0.1:{stack.options.aws_port}"
        table, ledger = (
            next(t for t in _credit_tables() if t.endswith(suffix))
            for suffix in ("processed-events", "ledger")
        )
        for n in range(writers):
            threading.Thread(
                target=_writer, args=(endpoint, table, ledger, n, stopping), daemon=True
            ).start()
        time.sleep(3)
        steps: dict[str, float] = {}
        t0 = time.monotonic()
        stack.stack_file.unlink(missing_ok=True)
        while stack._stops:  # LocalStack.stop(), one step at a time
            step = stack._stops.pop()
            t = time.monotonic()
            step()
            name = getattr(step, "__qualname__", str(step)).replace("<locals>.", "")
            steps[name] = round(steps.get(name, 0) + time.monotonic() - t, 2)
        total = time.monotonic() - t0
        stopping.set()
    finally:
        stack.stop()
        _reset_moto()
        shutil.rmtree(state, ignore_errors=True)
        _patched(True)
    slowest = dict(sorted(steps.items(), key=lambda kv: -kv[1])[:2])
    return {"stop_s": round(total, 2), "slowest_steps_s": slowest}


def _reset_moto() -> None:
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[ACCOUNT][REGION].reset()


def run(sizes: list[int], credits: int, stop_rows: int | None) -> dict[str, Any]:
    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench")
    report: dict[str, Any] = {"credit_ms_by_rows_per_table": {}}
    for rows in sizes:
        n = credits if rows <= 10_000 else 1
        report["credit_ms_by_rows_per_table"][rows] = {
            "moto": credit_cost(rows, patched=False, credits=n)["credit_ms_median"],
            "patched": credit_cost(rows, patched=True, credits=credits)["credit_ms_median"],
        }
        print(rows, report["credit_ms_by_rows_per_table"][rows], file=sys.stderr, flush=True)
    if stop_rows:
        report[f"stack_stop_with_{stop_rows}_rows_per_credit_table"] = {
            "moto": _in_fresh_process(stop_rows, patched=False),
            "patched": _in_fresh_process(stop_rows, patched=True),
        }
    return report


def _in_fresh_process(rows: int, patched: bool) -> dict[str, Any]:
    """A stack of its own: this process already ran `mock_aws` with cached clients."""
    import json
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out = subprocess.run(
        [sys.executable, "-m", "bench.table_scaling", str(rows), "patched" if patched else "moto"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(stack_stop(int(sys.argv[1]), patched=sys.argv[2] == "patched")))
