"""`./dev bench`: measure the backend and write bench/RESULTS.md (bench/results.py: machine,
versions, every figure with its method, and the capacity model of bench/capacity.py);
`--quick` for a smoke run. The measures:

- stack start-up time (`python -m infra.local up` until stack.json is written);
- publish -> ack latency over N deposits through the real local stack (MQTT in, ack out);
- DynamoDB requests and capacity units per business event, counted at the botocore layer on
  moto (`mock_aws`; bench/dynamodb_costs.py);
- Lambda cold-start import time of `app` (median of fresh interpreters);
- DynamoDB requests and capacity units per control-room operation, through the real routes
  (bench/control_room_costs.py).

`--table-scaling` runs bench/table_scaling.py instead (credit cost and stop time by table
size, moto's own TransactWriteItems against infra/local/moto_transactions.py). `--only
dynamodb,control_room` re-measures those in-process sections alone and rewrites them in
bench/RESULTS.md, each saying when (bench/results.py `remeasure`). `--console` measures the
operators' console's city page with a whole city in Chromium (bench/console_city.py) and
rewrites its section the same way. `--costs` prices a month in Seoul at both scales
(bench/costs.py: bench/prices_ap_northeast_2.json and bench/cost_usage.json) and rewrites its
section; it measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_stack(deposits: int, interval_s: float) -> dict[str, Any]:
    from bench.local_stack import running_stack

    with running_stack() as (state, startup):
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


def _latency(
    state: Path, stack: dict[str, Any], count: int, flow_control: bool, interval_s: float
) -> dict[str, Any]:
    from datetime import UTC, datetime

    from infra.local.dev_issuer import ensure_issuer
    from iot.device import RobotClient, new_event_id

    # One citizen per 100 deposits of one item: the daily limit is 100 items.
    phones = [f"010-9000-{n:04d}" for n in range(count // 100 + 1)]
    for n, phone in enumerate(phones):
        from bench.phones import register_over_http

        token = ensure_issuer(state).mint(f"bench-citizen-{n}")
        register_over_http(stack["api_url"], token, state, phone)
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


# Sizes of the walking, fleet and payout measurements in `bench_requests` (small: the whole
# section runs in well under a minute; the per-event costs do not depend on them, except
# the payout run's fixed per-chunk requests, which weigh more in a small run).
RANK_BOARD_MEMBERS = 1_000
PAYOUT_CITIZENS = 200


def bench_requests() -> dict[str, Any]:
    """Requests and capacity units per business event, counted at the botocore layer
    (bench/dynamodb_costs.py): a deposit credited (by phone, by code, crossing the payout
    threshold), a duplicate, a rejection, a quarantined message, the ledger stream's
    batch that keeps the city totals (per entry), step syncs (PUT /v1/me/steps), and the
    events measured by bench.ranks (step-board stream, my rank, top 10), bench.fleet_costs
    (telemetry, robot status) and bench.payout_run (per citizen paid), each on its own
    `mock_aws`."""
    from datetime import UTC, datetime, timedelta

    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no metric lines on stdout
    from moto import mock_aws

    from bench.dynamodb_costs import metering

    results: dict[str, Any] = {}
    with mock_aws():
        import boto3

        from chalicelib import config, wiring
        from chalicelib.adapters.dynamodb_models import ALL_MODELS, Citizen
        from chalicelib.events import intake
        from infra.local import provision

        provision.create_tables()
        provision.create_queues(boto3.client("sqs", region_name="ap-northeast-2"))
        provision.register_devices(provision.load_fleet())
        from bench.phones import register_in_process

        citizens = wiring.citizens()
        register_in_process("bench", "b", "01090000002")
        register_in_process("rich", "r", "01090000003")
        stale_code = citizens.issue_deposit_code("bench").code
        service = wiring.recycling()
        warm_up = intake.deposit_payload("robot-001", _payload("warm-up-0001"))
        service.receive(warm_up)  # caches: device, clients
        yesterday = datetime.now(UTC) - timedelta(days=1)
        # 1,500 points: the next 100 cans cross the threshold
        rich = _payload("rich-0001", "010-9000-0003", cans=100, occurred_at=yesterday)
        service.receive(intake.deposit_payload("robot-001", rich))
        dynamodb = boto3.client("dynamodb", region_name="ap-northeast-2")
        ledger_stream = provision.stream_environment(dynamodb)

        def fresh_code() -> bytes:
            # Issued just before use, as at a robot: the code carries the current account.
            return _payload("bench-evt-0003", code=citizens.issue_deposit_code("bench").code)

        events: list[tuple[str, str, Callable[[], bytes]]] = [
            ("deposit credited (phone)", "robot-001", lambda: _payload("bench-evt-0001")),
            ("deposit credited (one-time code)", "robot-001", fresh_code),
            (
                "deposit credited (code issued before another posting: snapshot stale, read again)",
                "robot-001",
                lambda: _payload("bench-evt-0005", code=stale_code),
            ),
            (
                "deposit credited, crossing the payout threshold",
                "robot-001",
                lambda: _payload("rich-0002", "010-9000-0003", cans=100),
            ),
            ("duplicate delivery", "robot-001", lambda: _payload("bench-evt-0001")),
            (
                "rejection (unknown citizen)",
                "robot-001",
                lambda: _payload("bench-evt-0002", "010-9999-9999"),
            ),
            (
                "quarantined (malformed JSON)",
                "robot-001",
                lambda: b'{"event_id": "bench-evt-0004", ',
            ),
        ]
        with metering() as meter:
            meter.prime(dynamodb, [config.table_name(_logical(m)) for m in ALL_MODELS])
            meter.reset()
            for label, device, make in events:
                payload = make()
                meter.reset()
                service.receive(intake.deposit_payload(device, payload))
                results[label] = meter.reset().as_dict()
            meter.reset()
            citizens.issue_deposit_code("rich")  # a put and three condition checks, one request
            results["deposit code issued"] = meter.reset().as_dict()
            stream_event = _ledger_stream_event(ledger_stream)
            meter.reset()
            entries = len(stream_event["Records"])
            _invoke_ledger_changes(stream_event)
            batch = meter.reset().as_dict()
            results[f"ledger stream batch (city totals), per entry of {entries}"] = _per_event(
                batch, entries, f"the batch of {entries} entries"
            )
            results.update(_step_syncs(meter))
        from bench.table_scaling import _clear_caches

        _clear_caches()  # the next benchmark runs its own mock_aws
        assert Citizen.get("bench").balance == 60, Citizen.get("bench").balance
        assert Citizen.get("rich").payout_bucket is not None
    saved = dict(os.environ)
    try:
        results.update(_measured_elsewhere())
    finally:  # the modules set their emulators' variables; later benchmarks get ours
        os.environ.clear()
        os.environ.update(saved)
    return results


def _per_event(batch: dict[str, Any], events: int, calls_for: str) -> dict[str, Any]:
    """A batch's cost per event; the calls and the largest items stay the whole batch's."""
    return {
        "dynamodb_requests": round(batch["dynamodb_requests"] / events, 2),
        "rru": round(batch["rru"] / events, 2),
        "wru": round(batch["wru"] / events, 2),
        "wru_of_indexes": round(batch["wru_of_indexes"] / events, 2),
        "by_operation": batch.get("by_operation", {}),
        "item_bytes": batch.get("item_bytes", {}),
        "batch_records": events,
        "calls_for": calls_for,
    }


def _step_syncs(meter: Any) -> dict[str, Any]:
    """PUT /v1/me/steps as its route runs it (StepService.sync): one day, today and
    yesterday, the whole window of 8 days, and that sync resent."""
    from datetime import timedelta

    from chalicelib import config, wiring
    from chalicelib.domain.clock import seoul_day, utc_now
    from chalicelib.domain.steps import DaySteps

    today = seoul_day(utc_now())
    window = config.settings().step_sync_days_back + 1

    def days(counts: list[int]) -> list[DaySteps]:
        return [DaySteps((today - timedelta(days=n)).isoformat(), c) for n, c in enumerate(counts)]

    service = wiring.steps()
    syncs = [
        ("step sync (PUT /v1/me/steps), today raised", days([4_000])),
        ("step sync, today and yesterday raised", days([6_000, 8_000])),
        (f"step sync, all {window} days of the window raised", days([9_000] * window)),
        ("step sync, nothing higher (a resend)", days([9_000] * window)),
    ]
    out: dict[str, Any] = {}
    for label, synced in syncs:
        meter.reset()
        stored = service.sync("bench", synced)
        out[label] = meter.reset().as_dict()
        assert {d.isoformat(): n for d, n in stored.items()} == {d.date: d.steps for d in synced}
    return out


def _measured_elsewhere() -> dict[str, Any]:
    """The walking, fleet and payout events, from the modules that measure them."""
    from bench import fleet_costs, payout_run, ranks

    out: dict[str, Any] = {}
    for label, batch in ranks.stream_capacity().items():
        records = batch["records"]
        name = "step-board stream (handle_step_boards)"
        if records == 1:
            out[f"{name}, one record alone"] = {k: v for k, v in batch.items() if k != "records"}
        else:
            out[f"{name}, per record, {label}"] = _per_event(
                batch, records, f"the batch of {records} records"
            )
    board = ranks.bench_ranks(RANK_BOARD_MEMBERS)
    size = f"board of {RANK_BOARD_MEMBERS:,}"
    out[f"my rank ({size}; GET /v1/leaderboards/steps)"] = board["my rank capacity (median member)"]
    out[f"top 10 ({size}; the same GET)"] = board["top 10 capacity"]
    fleet = fleet_costs.fleet_costs(events_only=True)
    for label in (
        "telemetry (steady)",
        "telemetry replayed",
        "telemetry opening an air alert",
        "robot status (steady)",
    ):
        out[label if label.startswith("robot") else f"shelter {label}"] = fleet[label]
    run = payout_run.costs(PAYOUT_CITIZENS)
    paid = run["citizens_paid"]
    out[f"payout run, per citizen paid (a run of {paid:,})"] = {
        **run["per_citizen_paid"],
        "batch_records": paid,
        "calls_for": f"the run of {paid:,} citizens, {run['chunks']} chunks",
    }
    return out


def _logical(model: Any) -> str:
    from chalicelib.adapters.dynamodb_models import logical_name

    return logical_name(model)


def _ledger_stream_event(environment: dict[str, str]) -> dict[str, Any]:
    """Every record of the ledger's stream so far, as Lambda delivers them."""
    import boto3
    import botocore.config

    from chalicelib import streams
    from infra.local.stream_source import stream_event

    client = boto3.client(
        "dynamodbstreams",
        region_name="ap-northeast-2",
        config=botocore.config.Config(account_id_endpoint_mode="disabled"),
    )
    return stream_event(client, environment[streams.LEDGER_CHANGES.arn_variable], "ap-northeast-2")


def _invoke_ledger_changes(event: dict[str, Any]) -> None:
    from app import handle_ledger_changes
    from infra.local.lambda_runtime import LambdaContext

    result = handle_ledger_changes(event, LambdaContext("ledger-changes"))
    assert result == {"batchItemFailures": []}, result


def _payload(
    event_id: str,
    phone: str = "010-9000-0002",
    *,
    code: str | None = None,
    cans: int = 1,
    occurred_at: Any = None,
) -> bytes:
    from datetime import UTC, datetime

    payload = {
        "event_id": event_id,
        "citizen": {"code": code} if code is not None else {"phone": phone},
        "items": [{"material": "can", "accepted": cans, "rejected": 0}],
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
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
    parser.add_argument(
        "--coldstart",
        action="store_true",
        help="only: fresh-process import and first-deposit times against boto3 (JSON)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=7,
        help="fresh processes per figure (--console: cold page loads)",
    )
    parser.add_argument("--sizes", default="0,1000,10000,50000", help="rows per credit table")
    parser.add_argument("--credits", type=int, default=5, help="credits timed per size")
    parser.add_argument("--stop-rows", type=int, default=10000, help="rows per table; 0: skip")
    parser.add_argument("--quick", action="store_true", help="fewer deposits and rows (smoke)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument(
        "--throughput",
        action="store_true",
        help="only: credited/s end to end, empty and after --fill-rows rows, and stop time",
    )
    parser.add_argument("--robots", type=int, default=2)
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="--throughput without the emulator's journal (to measure what it costs)",
    )
    parser.add_argument("--fill-rows", type=int, default=50_000)
    parser.add_argument(
        "--only",
        help="only: re-measure these sections of --output in place, comma-separated "
        "(dynamodb, with the capacity model from it; control_room); seconds, in process",
    )
    parser.add_argument(
        "--console",
        action="store_true",
        help="only: the console's city page with 1,000 devices and 200 open alerts (Chromium)",
    )
    parser.add_argument(
        "--stack-dir",
        type=Path,
        default=None,
        help="--console on the running local stack of this state folder (default: its own)",
    )
    parser.add_argument(
        "--api-url",
        default=None,
        help="--console on the running stack of this URL, seeded already (implies --no-seed)",
    )
    parser.add_argument(
        "--no-seed", action="store_true", help="--console: the stack holds the city already"
    )
    parser.add_argument("--pan-seconds", type=float, default=6.0, help="--console: panning")
    parser.add_argument(
        "--console-url", default=None, help="--console: the console's URL (default: the API's)"
    )
    parser.add_argument(
        "--console-dir",
        type=Path,
        default=ROOT / "console",
        help="--console: the console folder the stack serves, for its files' sizes",
    )
    parser.add_argument(
        "--costs",
        action="store_true",
        help="only: the monthly AWS cost in Seoul at both scales (bench/costs.py: "
        "bench/prices_ap_northeast_2.json x the capacity model); no measuring",
    )
    parser.add_argument("--note", default=None, help="--console: a line heading its section")
    args = parser.parse_args()
    if args.costs:
        from bench import costs, results

        results.rewrite_sections(args.output, {"costs": costs.render()})
        print(f"rewrote the costs' section in {args.output}")
        return 0
    if args.console:
        from bench import console_city, results

        try:
            measured = console_city.run(
                args.stack_dir,
                api_url=args.api_url,
                runs=args.repeats,
                pan_s=args.pan_seconds,
                seed=not (args.no_seed or args.api_url),
                console_url=args.console_url,
                console_dir=args.console_dir,
                log=lambda line: print(line, file=sys.stderr, flush=True),
            )
        except console_city.ConsoleMissing as e:
            print(f"bench --console: {e}", file=sys.stderr)
            return 2
        print(json.dumps(measured, indent=2, ensure_ascii=False))
        results.record_console(args.output, measured, args.note or "")
        print(f"rewrote the console's section in {args.output}")
        return 0
    if args.only:
        from bench import results

        results.remeasure(args.output, args.only.split(","))
        print(f"rewrote {args.only} in {args.output}")
        return 0
    if args.coldstart:
        from bench import coldstart

        print(json.dumps(coldstart.run(args.repeats), indent=2))
        return 0
    if args.throughput:
        from bench import throughput

        deposits = args.deposits if "--deposits" in sys.argv else 500
        result = throughput.run(deposits, args.robots, args.fill_rows, journal=not args.no_journal)
        print(json.dumps(result, indent=2))
        return 0
    if args.table_scaling:
        from bench import table_scaling

        sizes = [int(n) for n in args.sizes.split(",")]
        result = table_scaling.run(sizes, args.credits, args.stop_rows)
        print(json.dumps(result, indent=2))
        return 0
    from bench import results

    deposits = args.deposits if args.deposits != 100 else None
    sections = results.collect(args.quick, deposits, args.interval)
    results.write(args.output, sections)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
