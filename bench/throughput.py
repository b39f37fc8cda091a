"""`python -m bench --throughput`: deposits credited per second END TO END through one local
stack, with empty tables and again after `fill_rows` rows in every table a credit touches,
in the same run; then how long the stack takes to stop with those rows.

The path measured is the real one: robots publish over MQTT with awsiotsdk (mTLS) ->
mosquitto -> the local rules engine -> SQS (moto server) -> the real Chalice SQS handler ->
DynamoDB (moto server) -> the ack through iot-data -> mosquitto -> the robot.

The stack runs in this process (`LocalStack`, on free ports and a temporary state folder)
with its defaults: moto server in a process of its own, the handlers in Lambda worker
processes. Filler rows are written straight into the emulator's tables, in the emulator's
process (`Emulator.call`), as a long-running stack accumulates them (through moto server's
HTTP API, 250,000 rows take minutes). Filler
rows are written without stream records: their stream records would have been consumed
long ago (DynamoDB keeps them 24 h).

Robots keep `in_flight` deposits each outstanding (a robot's resend/ack loop, pipelined),
with awsiotsdk's IoT Core flow control (about 100 publishes/s per connection) turned OFF:
this is a local load test of the backend, not of the device contract. Each deposit is one
item for a phone-identified citizen; citizens are spread so that no one reaches the daily
limit (100 items/day) and concurrent deposits rarely share a citizen.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "ap-northeast-2"
DEPOSITS_PER_CITIZEN = 5


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _register(api_url: str, issuer: Any, state: Path, citizen_id: str, phone: str) -> None:
    from bench.phones import register_over_http

    register_over_http(api_url, issuer.mint(citizen_id), state, phone)


def _phones(phase: int, count: int) -> list[str]:
    return [f"010-{7000 + phase}-{n:04d}" for n in range(count)]


class _Robot:
    """One robot connection publishing deposits with up to `in_flight` awaiting their ack."""

    def __init__(self, client: Any, in_flight: int) -> None:
        self.client = client
        self.window = threading.Semaphore(in_flight)
        self.lock = threading.Lock()
        self.sent: dict[str, float] = {}
        self.latencies_ms: list[float] = []
        self.statuses: dict[str, int] = {}
        self.last_ack = 0.0
        self.done = threading.Event()
        self.expected = 0
        client.subscribe(client.ack_topic, self._on_ack)

    def _on_ack(self, topic: str, payload: bytes) -> None:
        now = time.perf_counter()
        ack = json.loads(payload)
        with self.lock:
            sent = self.sent.pop(str(ack.get("event_id")), None)
            if sent is None:
                return  # a duplicate ack, or a warm-up of another phase
            self.latencies_ms.append((now - sent) * 1000)
            status = str(ack.get("status"))
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.last_ack = now
            if len(self.latencies_ms) >= self.expected:
                self.done.set()
        self.window.release()

    def reset(self, expected: int) -> None:
        with self.lock:
            self.sent.clear()
            self.latencies_ms = []
            self.statuses = {}
            self.expected = expected
            self.done.clear()

    def publish(self, events: list[dict[str, Any]], timeout: float) -> None:
        from iot.device import _encode

        deadline = time.monotonic() + timeout
        for event in events:
            if not self.window.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return  # acks stopped coming; the report shows what is missing
            with self.lock:
                self.sent[event["event_id"]] = time.perf_counter()
            self.client.publish_async(self.client.deposits_topic, _encode(event))


def _cpu_s(pids: tuple[int, ...]) -> float:
    """CPU seconds (user + system) these processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _phase(
    robots: list[_Robot],
    deposits: int,
    phones: list[str],
    tag: str,
    timeout: float,
    processes: dict[str, tuple[int, ...]] | None = None,
) -> dict[str, Any]:
    """`processes`: other processes of the stack whose CPU use to report, by name."""
    from iot.device import new_event_id

    per_robot: list[list[dict[str, Any]]] = [[] for _ in robots]
    for i in range(deposits):
        per_robot[i % len(robots)].append(
            {
                "event_id": f"{tag}-{new_event_id()}",
                "citizen": {"phone": phones[i % len(phones)]},
                "items": [{"material": "can", "accepted": 1, "rejected": 0}],
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        )
    for robot, events in zip(robots, per_robot, strict=True):
        robot.reset(len(events))
    processes = processes or {}
    cpu = os.times()
    others_cpu = {name: _cpu_s(pids) for name, pids in processes.items()}
    started = time.perf_counter()
    threads = [
        threading.Thread(target=r.publish, args=(events, timeout), daemon=True)
        for r, events in zip(robots, per_robot, strict=True)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for robot in robots:
        robot.done.wait(max(0.0, deadline - time.monotonic()))
    for t in threads:
        t.join(1)
    cpu_end = os.times()
    cpu_s = (cpu_end.user - cpu.user) + (cpu_end.system - cpu.system)
    others_cpu_s = {name: _cpu_s(pids) - others_cpu[name] for name, pids in processes.items()}
    wall = time.perf_counter() - started
    latencies = [ms for r in robots for ms in r.latencies_ms]
    statuses: dict[str, int] = {}
    for r in robots:
        for status, n in r.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    last = max((r.last_ack for r in robots), default=started)
    elapsed = max(1e-9, last - started)
    credited = statuses.get("credited", 0)
    report = {
        "deposits": deposits,
        "acks": dict(sorted(statuses.items())),
        "missing_acks": deposits - len(latencies),
        "elapsed_s": round(elapsed, 2),
        "credited_per_s": round(credited / elapsed, 1),
        "ack_ms_p50": round(_percentile(latencies, 0.5), 1),
        "ack_ms_p95": round(_percentile(latencies, 0.95), 1),
        "ack_ms_max": round(max(latencies, default=float("nan")), 1),
        # this process: the stack and the robots; its other processes apart
        "cpu_cores_used": round(cpu_s / wall, 2),
        "cpu_ms_per_credit": round(1000 * cpu_s / credited, 1) if credited else None,
    }
    for name, used_s in others_cpu_s.items():
        report[f"{name}_cpu_cores_used"] = round(used_s / wall, 2)
        report[f"{name}_cpu_ms_per_credit"] = (
            round(1000 * used_s / credited, 1) if credited else None
        )
    return report


def credit_tables() -> list[str]:
    from bench.table_scaling import _credit_tables

    return _credit_tables()


def fill(rows: int) -> dict[str, Any]:
    """`rows` filler items in each table a credit touches, straight into the emulator (under
    its request lock), without stream records. Runs in the emulator's process."""
    from moto.dynamodb.models import dynamodb_backends

    from infra.local.moto_transactions import LOCK

    backend = dynamodb_backends[ACCOUNT][REGION]
    started = time.monotonic()
    for name in credit_tables():
        table = backend.get_table(name)
        for start in range(0, rows, 1000):
            with LOCK:  # in slices: the stack's requests go on meanwhile
                shard, table.stream_shard = table.stream_shard, None
                try:
                    for n in range(start, min(rows, start + 1000)):
                        attrs: dict[str, Any] = {
                            table.hash_key_attr: {"S": f"filler-{n:06d}"},
                            "note": {"S": "filler row of a long-running stack"},
                            "points": {"N": str(n % 100)},
                        }
                        if table.range_key_attr is not None:
                            attrs[table.range_key_attr] = {"S": f"{n:012d}"}
                        backend.put_item(name, attrs)
                finally:
                    table.stream_shard = shard
    counts = {name: sum(1 for _ in backend.get_table(name).all_items()) for name in credit_tables()}
    return {"fill_s": round(time.monotonic() - started, 1), "rows_by_table": counts}


def run(
    deposits: int = 500,
    robots: int = 2,
    fill_rows: int = 50_000,
    *,
    in_flight: int = 25,
    sqs_workers: int | None = None,
    lambda_workers: int | None = None,
    emulator_process: bool = True,
    journal: bool = True,
    warmup: int = 20,
    timeout_s: float = 300.0,
    profile: str | None = None,
) -> dict[str, Any]:
    """Credited/s and publish->ack p50/p95 with empty tables, then with `fill_rows` rows in
    each table a credit touches, on one in-process local stack; then its stop time.

    `in_flight`: deposits each robot keeps awaiting their ack. `sqs_workers`: concurrent
    pollers per SQS queue, `lambda_workers`: processes the handlers run in (0: the stack's
    own; None: the stack's defaults). `emulator_process`: moto server in a process of its
    own (False: in the stack's, as before). `profile`: write a cProfile of the whole process
    during both phases to this file (moto server only with emulator_process=False, the
    handlers only with lambda_workers=0). `journal`: the emulator journals every change
    (infra/local/journal.py; False: the stack without its journal, to measure its cost).
    """
    from infra.local.stack import LocalStack, StackOptions, free_port

    state = Path(tempfile.mkdtemp(prefix="gimhae-bench-thru-"))
    options = StackOptions(
        state_dir=state,
        api_port=free_port(),
        aws_port=free_port(),
        mqtt_port=free_port(),
        emulator_process=emulator_process,
        journal=journal,
    )
    if sqs_workers is not None:
        options.sqs_workers = sqs_workers
    if lambda_workers is not None:
        options.lambda_workers = lambda_workers
    stack = LocalStack(options)
    report: dict[str, Any] = {
        "deposits_per_phase": deposits,
        "robots": robots,
        "in_flight_per_robot": in_flight,
        "flow_control": "off (awsiotsdk's IoT Core limits, ~100 publishes/s per connection)",
    }
    clients: list[Any] = []
    # moto server prints "Serving on ..." to stdout: keep stdout for the JSON report
    with contextlib.redirect_stdout(sys.stderr):
        _run(
            stack,
            options,
            state,
            report,
            clients,
            deposits,
            robots,
            fill_rows,
            in_flight,
            warmup,
            timeout_s,
            profile,
        )
    return report


def _run(
    stack: Any,
    options: Any,
    state: Path,
    report: dict[str, Any],
    clients: list[Any],
    deposits: int,
    robots: int,
    fill_rows: int,
    in_flight: int,
    warmup: int,
    timeout_s: float,
    profile: str | None,
) -> None:
    from infra.local.dev_issuer import ensure_issuer
    from iot.device import RobotClient, stack_connection

    stopped = False
    try:
        document = stack.start()
        report["startup_s"] = round(stack.timings["total"], 2)
        report["sqs_workers"] = options.sqs_workers
        report["lambda_workers"] = options.lambda_workers
        report["emulator_process"] = options.emulator_process
        report["journal"] = options.journal
        issuer = ensure_issuer(state)
        per_phase = max(1, -(-deposits // DEPOSITS_PER_CITIZEN))
        registrations = [
            (f"bench-{phase}-{n}", phone)
            for phase in range(3)
            for n, phone in enumerate(_phones(phase, per_phase if phase else 4))
        ]
        t = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(lambda c: _register(document["api_url"], issuer, state, *c), registrations)
            )
        report["register_s"] = round(time.monotonic() - t, 1)

        mqtt = document["mqtt"]
        robot_ids = sorted(d for d in mqtt["devices"] if d.startswith("robot-"))[:robots]
        if len(robot_ids) < robots:
            raise ValueError(f"the fleet has {len(robot_ids)} robots, {robots} asked")
        for device_id in robot_ids:
            client = RobotClient(
                device_id, **stack_connection(document, device_id, _path), flow_control=False
            )
            client.connect()
            clients.append(client)
        fleet = [_Robot(c, in_flight) for c in clients]

        # warm-up: caches, connections, the first imports of the handler's code paths
        _phase(fleet, warmup, _phones(0, 4), "warm", timeout_s)

        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        sandboxes = getattr(stack, "sandboxes", None)
        processes = {
            "lambda_workers": tuple(sandboxes.pids()) if sandboxes is not None else (),
            "mosquitto": (stack.broker.pid,) if stack.broker.pid else (),
        }
        if stack.emulator.own_process:
            processes["emulator"] = (stack.emulator.pid,)
        report["empty_tables"] = _phase(
            fleet, deposits, _phones(1, per_phase), "empty", timeout_s, processes
        )
        print("empty tables:", report["empty_tables"], file=sys.stderr, flush=True)
        # what the emulator journaled since the start's checkpoint (0 without a journal)
        report["journal_bytes"] = stack.emulator.call("infra.local.journal:journal_bytes")
        if profiler is not None:
            profiler.disable()
        if fill_rows:
            report["fill"] = stack.emulator.call("bench.throughput:fill", fill_rows)
            print("filled:", report["fill"], file=sys.stderr, flush=True)
            if profiler is not None:
                profiler.enable()
            filled = _phase(fleet, deposits, _phones(2, per_phase), "full", timeout_s, processes)
            if profiler is not None:
                profiler.disable()
            report[f"after_{fill_rows}_rows"] = filled
            print("filled tables:", filled, file=sys.stderr, flush=True)
            empty_rate = report["empty_tables"]["credited_per_s"]
            report["ratio_full_to_empty"] = (
                round(filled["credited_per_s"] / empty_rate, 2) if empty_rate else None
            )
        if profiler is not None and profile:
            profiler.dump_stats(profile)
        for client in clients:
            client.disconnect()
        clients.clear()
        t = time.monotonic()
        stack.stop()
        stopped = True
        report["stop_s"] = round(time.monotonic() - t, 2)
    finally:
        for client in clients:
            client.disconnect()
        if not stopped:
            stack.stop()
        shutil.rmtree(state, ignore_errors=True)  # it holds private keys


def _path(path: str) -> str:
    from infra.local.stack import ROOT

    return path if os.path.isabs(path) else str(ROOT / path)
