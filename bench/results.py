"""bench/RESULTS.md, written by `./dev bench` (`python -m bench`): the machine, the versions,
and every figure with the method that produced it.

`collect(quick)` runs the benchmarks and returns the sections; `write(path, sections)` turns
them into markdown. A benchmark module that is not there yet (bench.throughput,
bench.coldstart) is reported as "not measured (module missing)" and picked up once merged.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = ROOT / "bench" / "RESULTS.md"

# Section keys, in order, with their headings: `write` renders exactly these.
HEADINGS = {
    "machine": "Machine and versions",
    "local_stack": "1. Local stack at city scale",
    "cold_start": "2. Cold start",
    "dynamodb": "3. DynamoDB requests and capacity units per business event",
    "capacity": "4. Capacity model",
    "control_room": "5. DynamoDB requests and capacity units per control-room operation",
    "console": "6. The operators' console with a whole city",
    "costs": "7. Monthly cost in Seoul (ap-northeast-2)",
}

MISSING = "not measured (module missing)"


def machine() -> dict[str, Any]:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} ({platform.release()})"
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu or "unknown",
        "memory": memory or "unknown",
        "os": os_name,
        "versions": {
            "python": platform.python_version(),
            **{
                name: version(name)
                for name in (
                    "chalice",
                    "moto",
                    "pynamodb",
                    "aws-lambda-powertools",
                    "botocore",
                    "awsiotsdk",
                )
            },
            "mosquitto": _mosquitto_version(),
        },
    }


def _mosquitto_version() -> str:
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if binary is None:
        return "not installed"
    try:
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


# Collecting -------------------------------------------------------------------------------


def _optional(module: str, call: Callable[[Any], Any]) -> Any:
    """Run `call(module)`, or say the module is missing (another branch brings it)."""
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return MISSING
    return _guarded(lambda: call(loaded))


def _guarded(call: Callable[[], Any]) -> Any:
    """A failing benchmark is reported in its section; the others still run."""
    try:
        return call()
    except Exception as e:  # the report says what failed
        traceback.print_exc(file=sys.stderr)
        return f"failed: {type(e).__name__}: {e}"


def collect(quick: bool, deposits: int | None = None, interval_s: float = 0.1) -> dict[str, Any]:
    from bench import __main__ as bench
    from bench import capacity, costs, table_scaling

    def step(name: str) -> None:
        print(f"bench: {name}...", file=sys.stderr, flush=True)

    # Handlers log every deposit at the dev stage's level: that would be measured too.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    deposits = deposits or (20 if quick else 100)
    step("DynamoDB requests and capacity units per event")
    dynamodb = _guarded(bench.bench_requests)
    step("table scaling")
    sizes = [0, 1000] if quick else [0, 1000, 10_000, 50_000]
    scaling = _guarded(lambda: table_scaling.run(sizes, 2 if quick else 5, 0 if quick else 50_000))
    step("throughput: moto server and the handlers in processes of their own (the default)")
    fill_rows = 2_000 if quick else 50_000
    throughput = _guarded(
        lambda: _throughput_isolated(deposits=200 if quick else 2_000, fill_rows=fill_rows)
    )
    step("throughput: moto server in the stack's process, handlers in workers (before)")
    emulator_in_process = _guarded(
        lambda: _throughput_isolated(
            deposits=200 if quick else 1_000, fill_rows=fill_rows, emulator_process=False
        )
    )
    step("throughput: moto server and the handlers in the stack's process (long before)")
    in_process = _guarded(
        lambda: _throughput_isolated(
            deposits=200 if quick else 1_000,
            fill_rows=fill_rows,
            lambda_workers=0,
            emulator_process=False,
        )
    )
    step("publish→ack latency, paced and back to back")
    paced = _guarded(lambda: bench.bench_stack(deposits, interval_s=interval_s))
    loaded = _guarded(lambda: bench.bench_stack(deposits, interval_s=0))
    step("DynamoDB requests per control-room operation")
    control_room = _optional("bench.control_room_costs", lambda m: m.section())
    step("cold start")
    cold = _optional("bench.coldstart", lambda m: m.run(repeats=3 if quick else 7))
    step("the console's city page with a whole city (Chromium)")
    console = _guarded(lambda: _console(quick))
    ack_ms = paced.get("ack_ms_p50") if isinstance(paced, dict) else None
    return {
        "machine": machine(),
        "quick": quick,
        "local_stack": {
            "table_scaling": scaling,
            "throughput": throughput,
            "throughput_emulator_in_process": emulator_in_process,
            "throughput_handlers_in_process": in_process,
            "ack_paced": paced,
            "ack_back_to_back": loaded,
        },
        "cold_start": cold,
        "dynamodb": dynamodb,
        "capacity": capacity.render(
            dynamodb if isinstance(dynamodb, dict) else None, local_ack_ms=ack_ms
        ),
        "control_room": control_room,
        "console": console,
        "costs": costs.render(dynamodb if isinstance(dynamodb, dict) else None),
    }


def _console(quick: bool) -> dict[str, Any]:
    from bench import console_city

    measured = console_city.run(
        runs=3 if quick else 7, pan_s=3.0 if quick else 6.0, log=lambda line: None
    )
    return dated(measured)


def record_console(path: Path | str, measured: dict[str, Any], note: str = "") -> None:
    """`python -m bench --console`: its section rewritten in place, the others kept;
    `note` (`--note`) heads it, e.g. which console was measured."""
    rewrite_sections(path, {"console": dated(measured)}, note=note)


REMEASURABLE = ("dynamodb", "control_room")


def remeasure(path: Path | str, keys: list[str]) -> None:
    """Re-measure only `keys` (of REMEASURABLE: the in-process sections, seconds each) and
    rewrite them in place; `dynamodb` re-renders the capacity model (and the monthly cost)
    from its new figures and the paced publish->ack p50 already in the file. Each rewritten
    section says when."""
    import re

    from bench import __main__ as bench
    from bench import capacity, costs

    unknown = set(keys) - set(REMEASURABLE)
    if unknown:
        raise ValueError(f"only {', '.join(REMEASURABLE)} can be re-measured alone: {unknown}")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    text = Path(path).read_text(encoding="utf-8")
    found = re.search(r"^\| date \| (.+?) \|$", text, re.MULTILINE)
    since = found.group(1) if found else "the last full run"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = (
        f"Re-measured alone on {now} (`./dev bench --only {','.join(keys)}`); the sections "
        f"not marked so are from the full run of {since}."
    )
    sections: dict[str, Any] = {}
    if "dynamodb" in keys:
        dynamodb = bench.bench_requests()
        ack = re.search(r"^\| ack_ms_p50 \| ([0-9.]+) \|$", text, re.MULTILINE)  # paced: first
        sections["dynamodb"] = dynamodb
        sections["capacity"] = capacity.render(
            dynamodb, local_ack_ms=float(ack.group(1)) if ack else None
        )
        sections["costs"] = costs.render(dynamodb)
    if "control_room" in keys:
        from bench import control_room_costs

        sections["control_room"] = control_room_costs.section()
    rewrite_sections(path, sections, note=note)


def dated(measured: dict[str, Any]) -> dict[str, Any]:
    """A section's figures with the time they were measured (a section may be re-measured
    alone: `rewrite_sections`)."""
    return {"measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "rows": measured}


def _throughput_isolated(**kwargs: Any) -> Any:
    """bench.throughput.run in a fresh interpreter: it runs a whole stack in its process, and
    moto's in-process state (queues, buckets, keys) would carry over to the next one."""
    code = (
        "import json, sys\n"
        "from bench import throughput\n"
        f"print(json.dumps(throughput.run(**{kwargs!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False
    )  # its progress goes to stderr, as this process's does
    if done.returncode != 0:
        raise RuntimeError(f"bench.throughput failed ({done.returncode}); see stderr above")
    return json.loads(done.stdout.strip().splitlines()[-1])


# Writing ----------------------------------------------------------------------------------

METHODS = {
    "table_scaling": (
        "`bench.table_scaling.run`: rows written straight into moto's tables (each table a "
        "credit touches), then the median time of one credit through the real service on "
        "`mock_aws`, with moto's own TransactWriteItems (`moto`) and with "
        "infra/local/moto_transactions.py (`patched`); stop time of an in-process local stack "
        "holding that many rows while 3 clients keep committing transactions."
    ),
    "throughput": (
        "`bench.throughput.run` (in a fresh interpreter): credited deposits per second through "
        "one real local stack (robots over MQTT with awsiotsdk, mTLS -> mosquitto -> rules "
        "engine -> SQS -> the real handler -> DynamoDB -> ack over iot-data -> the robot), "
        "2 robots with 25 deposits each in flight, empty tables and then after `fill` rows in "
        "every table a credit touches, in the same run; then the stack's stop time. The "
        "handlers run in the stack's Lambda worker processes (`lambda_workers`) and moto server "
        "in a process of its own (infra/local/emulator.py); CPU is split between the stack's "
        "process (pollers, rules engine, API, the bench's robots), the emulator, mosquitto and "
        "the workers."
    ),
    "throughput_emulator_in_process": (
        "The same, with `emulator_process=False`: moto server in the stack's own process, "
        "sharing its interpreter with the pollers and the rules engine (the stack's default "
        "before the emulator got its own process)."
    ),
    "throughput_handlers_in_process": (
        "The same, with `emulator_process=False, lambda_workers=0`: moto server and every "
        "handler in the stack's own process, sharing "
        "its interpreter with moto server (what the stack did before)."
    ),
    "ack_paced": (
        "`bench_stack`: `python -m infra.local up` in a child process, one robot (awsiotsdk, "
        "mTLS) publishing one-item deposits and waiting for each ack; `--interval` (0.1 s) "
        "between deposits."
    ),
    "ack_back_to_back": "`bench_stack`, the same with no pause between deposits (under load).",
    "cold_start": (
        "`bench.coldstart.run`: fresh interpreters importing the Lambda entry point, repeated."
    ),
    "dynamodb": (
        "`bench_requests` + bench/dynamodb_costs.py: the real service on moto's `mock_aws`, "
        "every call counted at botocore's `BaseClient._make_api_call`. Capacity units are "
        "computed, not taken from moto: each written item is read back before and after the "
        "write (uncounted) and sized by DynamoDB's rules; on-demand, 1 RRU per 4 KB strongly "
        "consistent (half eventually), 1 WRU per 1 KB, transactions 2x, a GSI write when the "
        "write changes the index (1 in or out, 2 when its key moves), a failed condition still "
        "costs, a Query is billed for what it read (the items a filter drops at the returned "
        "ones' mean size). `item_bytes` is the largest item written per table. Step syncs run "
        "StepService.sync as `PUT /v1/me/steps` does; the step-board stream, my rank and the "
        "top 10 come from bench.ranks (`stream_capacity`: the real `handle_step_boards` on the "
        "step table's stream records; `bench_ranks` on a board of 1,000), shelter telemetry and"
        " robot status from bench.fleet_costs (the real `handle_device_reports`), the payout "
        "from bench.payout_run (`costs`: a whole run, chunks from the real queue), each on its "
        "own `mock_aws` in the same run. A row per record, per entry or per citizen divides its"
        " batch's requests and units; its calls and item bytes are the whole batch's, as the "
        "calls column says."
    ),
}


METHODS["control_room"] = (
    "`bench.control_room_costs.costs` + bench/dynamodb_costs.py, units as in section 3: "
    "every operation as staff run it, through the real routes behind the in-process API "
    "Gateway the functional tests use (infra/local/api_gateway.py: the dev issuer's tokens, "
    "the authorizer) and the real handlers for what devices and queues deliver "
    "(`handle_device_reports`, `handle_deposits`, `handle_payout_chunks`, "
    "`handle_ledger_changes`), on moto's `mock_aws`, one scene: a shelter's air turning bad "
    "and calm again, a robot's fault, the purifier held, two deposits of a robot not yet "
    "provisioned, a dead letter, a citizen's correction, a payout run of 4 citizens (2 "
    "without an account). `items written` counts each Put, Update and Delete and each item "
    "of a transaction, condition checks not. tests/functional/test_control_room_costs.py "
    "keeps the claims true: nothing scans, every list is one Query, a look-up by phone is "
    "at most 2 reads, an alert transition adds at most one written item."
)


METHODS["console"] = (
    "`python -m bench --console` (bench/console_city.py, bench/city_seed.py). A local stack "
    "(`python -m infra.local up`, devices silent after a day instead of 5 minutes so the "
    "seeded city stays online) is given a whole city: 1,000 devices listed (500 shelters, 500 "
    "robots over Gimhae's 19 districts, weighted to the town's dong; a tenth of the robots on "
    "a shelter's very spot and some in threes at one station), each provisioned as "
    "iot/provisioning.py does (thing, registry and state rows; no certificate: it never "
    "connects) and given one message (a shelter's telemetry, a robot's status) sent to the "
    "device-reports queue as its topic rule sends it, so the stack's own poller runs the real "
    "handler; 200 alerts open as the handler decides them (120 air bad or very bad, 60 full "
    "bins, 20 faults). `seeding.seconds` is how long that took, until the API listed it all. "
    "Then Debian's Chromium, headless through Playwright, 1280x800: each run a fresh browser "
    "context (cold HTTP cache, nothing stored), an operator's token from the stack's "
    "`POST /console/dev-login` put in sessionStorage before the page runs, "
    "`/console/#/city` opened; `interactive_ms` is the page's "
    '`performance.mark("city:interactive")` (markers, open alerts and today\'s figures on '
    "screen and clickable), from navigation start; `interactive_after_last_api_answer_ms` is "
    "the part after the page's last API answer arrived (the page's own work: the rest is "
    "loading and the local stack's answers, whose every call is in `runs[].api_ms` as "
    "[start, end]); `load_average_1min` is the machine's going in (2 cores, shared). "
    "On the last run, `panning`: mouse drags "
    "of the Leaflet map in six directions for several seconds, at the whole city's zoom and "
    "again three steps closer with the map's + button, each drag 20 mouse moves sent as "
    "the page takes them (about half a second a drag); the intervals between "
    "requestAnimationFrame callbacks meanwhile (60 Hz: 16.7 ms) and the long tasks; "
    "`scripts_loaded`: every .js the page loaded, from Resource Timing "
    "(`transfer_bytes` on the wire with headers, `decoded_bytes` as run); `scripts_on_disk`: "
    "every .js under console/ (raw and gzip -9). Budgets (issue 24): interactive within "
    "1,500 ms, under 400 KiB of JavaScript. Only 127.0.0.1 resolves in the browser; a request "
    "for any other host fails the bench."
)


def write(path: Path | str, sections: dict[str, Any]) -> None:
    out: list[str] = []
    add = out.append
    quick = " (`--quick`: fewer deposits and rows)" if sections.get("quick") else ""
    add("# Benchmark results")
    add("")
    add(
        f"Written by `./dev bench` (`python -m bench`){quick}. Do not edit by hand: run it "
        "again. Each figure says how it was measured."
    )
    for key, heading in HEADINGS.items():
        add("")
        add(f"## {heading}")
        add("")
        value = sections.get(key, MISSING)
        render = _RENDERERS.get(key, _generic)
        add(render(value).rstrip("\n"))
    Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")


def _machine(value: Any) -> str:
    if not isinstance(value, dict):
        return _generic(value)
    versions = value.get("versions", {})
    rows = [
        ("date", value.get("date")),
        ("CPUs", value.get("cpus")),
        ("CPU model", value.get("cpu_model")),
        ("memory", value.get("memory")),
        ("OS", value.get("os")),
        *versions.items(),
    ]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _local_stack(value: Any) -> str:
    if not isinstance(value, dict):
        return _generic(value)
    parts = []
    titles = {
        "table_scaling": "Credit cost by table size, and stack stop time",
        "throughput": "Throughput",
        "throughput_emulator_in_process": "Throughput, moto server in the stack's process (before)",
        "throughput_handlers_in_process": (
            "Throughput, moto server and handlers in the stack's process (long before)"
        ),
        "ack_paced": "Publish→ack, paced",
        "ack_back_to_back": "Publish→ack under load (back to back)",
    }
    for key, title in titles.items():
        parts.append(f"### {title}\n\nMethod: {METHODS[key]}\n\n{_generic(value.get(key))}")
    return "\n\n".join(parts)


def _cold_start(value: Any) -> str:
    return f"Method: {METHODS['cold_start']}\n\n{_generic(value)}"


def _dynamodb(value: Any) -> str:
    head = f"Method: {METHODS['dynamodb']}\n\n"
    if not isinstance(value, dict):
        return head + _generic(value)
    rows = [
        "| business event | DynamoDB requests | RRU | WRU (of which GSI) | calls | item bytes |",
        "|---|---|---|---|---|---|",
    ]
    for label, cost in value.items():
        if not isinstance(cost, dict):
            rows.append(f"| {label} | {cost} | | | | |")
            continue
        calls = ", ".join(f"{k} {n}" for k, n in cost.get("by_operation", {}).items())
        if cost.get("calls_for"):
            calls = f"for {cost['calls_for']}: {calls}"
        sizes = ", ".join(f"{k} {n}" for k, n in cost.get("item_bytes", {}).items())
        rows.append(
            f"| {label} | {cost.get('dynamodb_requests')} | {cost.get('rru')} | "
            f"{cost.get('wru')} ({cost.get('wru_of_indexes', 0)}) | {calls} | {sizes} |"
        )
    return head + "\n".join(rows)


def _control_room(value: Any) -> str:
    head = f"Method: {METHODS['control_room']}\n\n"
    if not isinstance(value, dict) or not isinstance(value.get("rows"), dict):
        return head + _generic(value)
    rows = [
        f"Measured {value.get('measured_at')}.",
        "",
        "| operation | DynamoDB requests | RRU | WRU (of which GSI) | items written | calls "
        "| item bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, cost in value["rows"].items():
        calls = ", ".join(f"{k} {n}" for k, n in cost.get("by_operation", {}).items())
        if cost.get("queried"):
            calls += " (on " + ", ".join(f"`{t}`" for t in cost["queried"]) + ")"
        sizes = ", ".join(f"{k} {n}" for k, n in cost.get("item_bytes", {}).items())
        rows.append(
            f"| {label} | {cost.get('dynamodb_requests')} | {cost.get('rru')} | "
            f"{cost.get('wru')} ({cost.get('wru_of_indexes', 0)}) | "
            f"{cost.get('items_written')} | {calls} | {sizes} |"
        )
    notes = value.get("notes")
    return head + "\n".join(rows) + (f"\n\n{notes}" if notes else "")


def rewrite_sections(path: Path | str, sections: dict[str, Any], note: str = "") -> None:
    """Re-render only `sections` (keys of HEADINGS) in an existing RESULTS.md, each in its
    place (a missing one where HEADINGS puts it), `note` first in each; the others stay as
    the last run wrote them."""
    text = Path(path).read_text(encoding="utf-8")
    blocks: list[tuple[str | None, str]] = []  # (section key or None, its text)
    by_heading = {f"## {h}": k for k, h in HEADINGS.items()}
    for part in text.split("\n## "):
        if blocks:
            part = "## " + part
        first = part.split("\n", 1)[0].strip()
        blocks.append((by_heading.get(first), part.rstrip("\n")))
    for key, value in sections.items():
        body = _RENDERERS.get(key, _generic)(value).rstrip("\n")
        rendered = f"## {HEADINGS[key]}\n\n" + (f"{note}\n\n" if note else "") + body
        keys = [k for k, _ in blocks]
        if key in keys:
            blocks[keys.index(key)] = (key, rendered)
            continue
        order = list(HEADINGS)
        before = [i for i, k in enumerate(keys) if k in order and order.index(k) < order.index(key)]
        blocks.insert(before[-1] + 1 if before else len(blocks), (key, rendered))
    Path(path).write_text("\n\n".join(b for _, b in blocks) + "\n", encoding="utf-8")


def _console_section(value: Any) -> str:
    head = f"Method: {METHODS['console']}\n\n"
    if not isinstance(value, dict) or not isinstance(value.get("rows"), dict):
        return head + _generic(value)
    measured = value["rows"]
    lines = [f"Measured {value.get('measured_at')}.", ""]
    verdict = measured.get("verdict")
    if isinstance(verdict, dict):
        lines += [_generic(verdict), ""]
    return head + "\n".join(lines) + _generic(measured)


def _capacity(value: Any) -> str:
    return value if isinstance(value, str) else _generic(value)


def _generic(value: Any) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in value.items())
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n```"


_RENDERERS: dict[str, Callable[[Any], str]] = {
    "machine": _machine,
    "local_stack": _local_stack,
    "cold_start": _cold_start,
    "dynamodb": _dynamodb,
    "capacity": _capacity,
    "control_room": _control_room,
    "console": _console_section,
    "costs": _capacity,
}
