"""`./dev bench`: measure the recycling slice.

- stack start-up time (`python -m infra.local up` until stack.json is written);
- publish -> ack latency over N deposits through the real local stack (MQTT in, ack out);
- DynamoDB requests per deposit, counted at the botocore layer on moto (`mock_aws`), for a
  first delivery, a duplicate and a rejection;
- Lambda cold-start import time of `app` (median of fresh interpreters).

`--table-scaling` runs bench/table_scaling.py instead (credit cost and stop time by table
size, moto's own TransactWriteItems against infra/local/moto_transactions.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 120


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_stack(deposits: int, interval_s: float) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="gimhae-bench-"))
    from infra.local.stack import spawn

    started = time.monotonic()
    process = spawn(state, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (state / "stack.json").exists():
            if process.poll() is not None or time.monotonic() - started > STARTUP_TIMEOUT_S:
                raise RuntimeError("the stack did not start")
            time.sleep(0.05)
        startup = time.monotonic() - started
        return {
            "startup_s": round(startup, 2),
            **_latency(
                state,
                json.loads((state / "stack.json").read_text()),
                deposits,
                flow_control=True,
                interval_s=interval_s,
            ),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(state, ignore_errors=True)  # it holds private keys


def _latency(
    state: Path, stack: dict[str, Any], count: int, flow_control: bool, interval_s: float
) -> dict[str, Any]:
    import urllib.request
    from datetime import UTC, datetime

    from infra.local.dev_issuer import ensure_issuer
    from iot.device import RobotClient, new_event_id

    # One citizen per 100 deposits of one item: the daily limit is 100 items.
    phones = [f"010-9000-{n:04d}" for n in range(count // 100 + 1)]
    for n, phone in enumerate(phones):
        token = ensure_issuer(state).mint(f"bench-citizen-{n}")
        request = urllib.request.Request(
            stack["api_url"] + "/v1/me",
            method="PUT",
            data=json.dumps(
                {"display_name": "bench", "district": "naeoe-dong", "phone": phone}
            ).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
        )
        urllib.request.urlopen(request, timeout=10).read()
    mqtt = stack["mqtt"]
    creds = mqtt["devices"]["robot-001"]
    robot = RobotClient(
        "robot-001",
        mqtt["host"],
        mqtt["port"],
        mqtt["ca_file"],
        creds["cert_file"],
        creds["key_file"],
        mqtt["city"],
        flow_control=flow_control,
    )
    robot.connect()
    samples = []
    try:
        for i in range(count):
            event = {
                "event_id": new_event_id(),
                "citizen": {"phone": phones[i // 100]},
                "items": [{"material": "can", "accepted": 1, "rejected": 0}],
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            t = time.perf_counter()
            ack = robot.deposit(event, timeout=30)
            samples.append((time.perf_counter() - t) * 1000)
            assert ack["status"] == "credited", ack
            # A robot deposits once per citizen, seconds apart; back-to-back publishes would
            # measure awscrt's missing TCP_NODELAY (~35 ms of Nagle/delayed ACK) instead.
            time.sleep(interval_s)
    finally:
        robot.disconnect()
    return {
        "deposits": count,
        "interval_s": interval_s,
        "ack_ms_p50": round(_percentile(samples, 0.5), 1),
        "ack_ms_p95": round(_percentile(samples, 0.95), 1),
        "ack_ms_max": round(max(samples), 1),
    }


def bench_requests() -> dict[str, Any]:
    """Requests per deposit, by service and operation, for three kinds of delivery."""
    import botocore.client

    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench")
    from moto import mock_aws

    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls[f"{self.meta.service_model.service_name}:{operation}"] += 1
        return original(self, operation, params)

    results: dict[str, Any] = {}
    with mock_aws():
        import boto3

        from chalicelib import wiring
        from chalicelib.adapters.dynamodb_models import Citizen
        from chalicelib.services.citizens import ProfileUpdate
        from infra.local import provision

        provision.create_tables()
        provision.create_queues(boto3.client("sqs", region_name="ap-northeast-2"))
        provision.register_devices(provision.load_fleet())
        wiring.citizens().register(
            "bench", ProfileUpdate("b", "naeoe-dong", "01090000002", phone_given=True)
        )
        service = wiring.recycling()
        service.receive_deposit("robot-001", _payload("warm-up-0001"))  # caches: device, clients
        botocore.client.BaseClient._make_api_call = counting
        try:
            for label, event_id, phone in (
                ("first delivery (credited)", "bench-evt-0001", "010-9000-0002"),
                ("redelivery (duplicate)", "bench-evt-0001", "010-9000-0002"),
                ("unknown citizen (rejected)", "bench-evt-0002", "010-9999-9999"),
            ):
                calls.clear()
                service.receive_deposit("robot-001", _payload(event_id, phone))
                dynamodb = {k: v for k, v in calls.items() if k.startswith("dynamodb")}
                results[label] = {
                    "dynamodb_requests": sum(dynamodb.values()),
                    "by_operation": dict(sorted(calls.items())),
                }
        finally:
            botocore.client.BaseClient._make_api_call = original
        assert Citizen.get("bench").balance == 30
    return results


def _payload(event_id: str, phone: str = "010-9000-0002") -> bytes:
    from datetime import UTC, datetime

    payload = {
        "event_id": event_id,
        "citizen": {"phone": phone},
        "items": [{"material": "can", "accepted": 1, "rejected": 0}],
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(payload).encode()


def bench_cold_start(runs: int = 7) -> dict[str, Any]:
    # awscrt is a development dependency (devices); it is not in the Lambda bundle, but
    # botocore imports it when present, so hide it to measure what Lambda would import.
    code = (
        "import sys; sys.modules['awscrt'] = None; import time; t = time.perf_counter(); "
        "import app; print((time.perf_counter() - t) * 1000)"
    )
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "AWS_DEFAULT_REGION": "ap-northeast-2"},
        )
        samples.append(float(out.stdout.strip()))
    return {"import_app_ms_median": round(statistics.median(samples), 1), "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(prog="./dev bench")
    parser.add_argument("--deposits", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between deposits")
    parser.add_argument(
        "--table-scaling",
        action="store_true",
        help="only: one credit's cost and the stack's stop time by table size, moto vs patched",
    )
    parser.add_argument("--sizes", default="0,1000,10000,50000", help="rows per credit table")
    parser.add_argument("--credits", type=int, default=5, help="credits timed per size")
    parser.add_argument("--stop-rows", type=int, default=10000, help="rows per table; 0: skip")
    parser.add_argument(
        "--throughput",
        action="store_true",
        help="only: credited/s end to end, empty and after --fill-rows rows, and stop time",
    )
    parser.add_argument("--robots", type=int, default=2)
    parser.add_argument("--fill-rows", type=int, default=50_000)
    args = parser.parse_args()
    if args.throughput:
        from bench import throughput

        deposits = args.deposits if "--deposits" in sys.argv else 500
        result = throughput.run(deposits, args.robots, args.fill_rows)
        print(json.dumps(result, indent=2))
        return 0
    if args.table_scaling:
        from bench import table_scaling

        sizes = [int(n) for n in args.sizes.split(",")]
        result = table_scaling.run(sizes, args.credits, args.stop_rows)
        print(json.dumps(result, indent=2))
        return 0
    report = {
        "cold_start": bench_cold_start(),
        "dynamodb_requests_per_deposit": bench_requests(),
        "stack_paced": bench_stack(args.deposits, interval_s=args.interval),
        "stack_back_to_back": bench_stack(args.deposits, interval_s=0),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
