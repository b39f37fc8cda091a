"""`python -m bench --coldstart`: what a Lambda cold start costs, in fresh processes.

Against a moto server this module starts itself (tables, queues and devices provisioned
from their one source, one registered citizen with a linked phone per run), it times:

- `import app` against `import boto3` (target: <= 1.25x);
- `import app` + the first deposit through the real SQS handler (`app.handle_deposits`,
  one record, through to the ack published on iot-data) against `import boto3` + a
  DynamoDB client + one GetItem on the same server (target: <= 1.5x);

each in a fresh interpreter with awscrt hidden (the Lambda bundle does not ship it; botocore
imports it when present), the two kinds interleaved A B A B after one warm-up each, as
median/min/max of the in-process times and of the whole process's wall time. One more
untimed process counts what the first and a second invocation build: botocore sessions and
clients, service-model loads (`Loader.load_service_model` calls and the JSON files read),
and requests by service and operation (the DynamoDB requests per credited deposit).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"  # moto's default account
DEVICE = "robot-001"
POINTS = 15  # one can (the dev stage's rate)

# Every child starts the same way: awscrt hidden, nothing imported but what the interpreter
# has already loaded (sys, os, time are there before site runs), then the timed part.
_PRELUDE = """\
import sys
sys.modules["awscrt"] = None  # import awscrt raises ImportError, as in the Lambda bundle
import os, time
_t0 = time.perf_counter()
"""

# The Lambda context the handler is given in the child processes.
_CONTEXT = """\
class _Context:
    function_name = "gimhae-smart-city-dev-handle_deposits"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:" + function_name
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "cold"
    identity = None
    client_context = None
    def get_remaining_time_in_millis(self):
        return 30000
"""

_APP = (
    """\
import app
_t1 = time.perf_counter()
"""
    + _CONTEXT
    + """\
import json
_result = app.handle_deposits(json.loads(os.environ["COLDSTART_EVENT"]), _Context())
_t2 = time.perf_counter()
_out = {"import_ms": (_t1 - _t0) * 1000, "first_ms": (_t2 - _t1) * 1000,
        "total_ms": (_t2 - _t0) * 1000, "result": _result,
        "awscrt_loaded": any(m == "awscrt" or m.startswith("awscrt.")
                             for m, v in sys.modules.items() if v is not None)}
"""
)

_BOTO3 = """\
import boto3
_t1 = time.perf_counter()
_client = boto3.client("dynamodb")
_t2 = time.perf_counter()
_client.get_item(TableName=os.environ["COLDSTART_TABLE"],
                 Key={"citizen_id": {"S": os.environ["COLDSTART_CITIZEN"]}})
_t3 = time.perf_counter()
_out = {"import_ms": (_t1 - _t0) * 1000, "client_ms": (_t2 - _t1) * 1000,
        "get_item_ms": (_t3 - _t2) * 1000, "total_ms": (_t3 - _t0) * 1000,
        "awscrt_loaded": any(m == "awscrt" or m.startswith("awscrt.")
                             for m, v in sys.modules.items() if v is not None)}
"""

_WRITE = """\
import json
with open(os.environ["COLDSTART_OUT"], "w") as _f:
    json.dump(_out, _f)
"""

# Untimed: counts what the first invocation (and a second one) builds and sends.
_COUNTING = (
    """\
import sys
sys.modules["awscrt"] = None
import collections, json, os
import botocore.client, botocore.loaders, botocore.session
_phase = "import"
_counts = {p: {"sessions": 0, "clients": collections.Counter(),
               "load_service_model": collections.Counter(), "files_read": collections.Counter(),
               "requests": collections.Counter()}
           for p in ("import", "first", "second")}
def _wrap(cls, name, record):
    original = getattr(cls, name)
    def wrapper(self, *args, **kwargs):
        record(self, *args, **kwargs)
        return original(self, *args, **kwargs)
    setattr(cls, name, wrapper)
def _session(self, *a, **k):
    _counts[_phase]["sessions"] += 1
def _client(self, *a, **k):
    _counts[_phase]["clients"][a[0] if a else k["service_name"]] += 1
def _model(self, service_name, type_name, *a, **k):
    _counts[_phase]["load_service_model"][f"{service_name}/{type_name}"] += 1
_DATA = os.path.dirname(botocore.__file__)
def _file(self, file_path, *a, **k):
    _counts[_phase]["files_read"][os.path.relpath(file_path, _DATA)] += 1
def _call(self, operation, params):
    _counts[_phase]["requests"][f"{self.meta.service_model.service_name}:{operation}"] += 1
_wrap(botocore.session.Session, "__init__", _session)
_wrap(botocore.session.Session, "create_client", _client)
_wrap(botocore.loaders.Loader, "load_service_model", _model)
_wrap(botocore.loaders.JSONFileLoader, "load_file", _file)
_wrap(botocore.client.BaseClient, "_make_api_call", _call)
import app
"""
    + _CONTEXT
    + """\
_results = []
for _phase, _variable in (("first", "COLDSTART_EVENT"), ("second", "COLDSTART_EVENT_2")):
    _results.append(app.handle_deposits(json.loads(os.environ[_variable]), _Context()))
_out = {"results": _results, "counts": {
    p: {k: (dict(sorted(v.items())) if isinstance(v, collections.Counter) else v)
        for k, v in c.items()} for p, c in _counts.items()}}
"""
)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


def _deposit_event(event_id: str, phone: str) -> str:
    """The SQS event Lambda delivers for one robot publish through the robot_deposits rule."""
    import base64

    payload = {
        "event_id": event_id,
        "citizen": {"phone": phone},
        "items": [{"material": "can", "accepted": 1, "rejected": 0}],
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body = {
        "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        "device_id": DEVICE,
        "client_id": DEVICE,
        "received_at": int(time.time() * 1000),
    }
    record = {
        "messageId": f"msg-{event_id}",
        "receiptHandle": f"rh-{event_id}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:gimhae-dev-deposits",
        "awsRegion": REGION,
    }
    return json.dumps({"Records": [record]})


def _child(code: str, env: dict[str, str]) -> tuple[dict[str, Any], float]:
    """Run `code` in a fresh interpreter; its `_out` dict and the process's wall time (ms)."""
    with tempfile.TemporaryDirectory(prefix="gimhae-cold-") as tmp:
        out = Path(tmp) / "out.json"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "COLDSTART_OUT": str(out)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        wall = (time.perf_counter() - started) * 1000
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"cold-start child failed ({done.returncode}):\n{done.stderr}")
        return dict(json.loads(out.read_text())), wall


@contextmanager
def _emulator() -> Iterator[dict[str, str]]:
    """A moto server on a free port, provisioned; the environment a Lambda function sees.

    This process's environment, its cached settings and clients are restored on exit."""
    from moto.server import ThreadedMotoServer

    from chalicelib import wiring
    from chalicelib.adapters import aws_clients
    from infra.local import moto_transactions
    from infra.local.stack import free_port, stage_environment

    clear = wiring.clear

    saved = dict(os.environ)
    patched = moto_transactions.installed()
    port = free_port()
    env = stage_environment("dev")
    env.pop("PHONE_HASH_KEY_PARAMETER", None)
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "PHONE_HASH_KEY": "coldstart-bench-key",
            # As in AWS (prod stage): INFO logs, metrics on (EMF on stdout, no API calls).
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_METRICS_DISABLED": "false",
        }
    )
    for name in ("AWS_PROFILE", "IOT_DATA_ENDPOINT", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(env)
    clear()
    moto_transactions.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        from infra.local import provision

        provision.create_tables()
        provision.create_queues(aws_clients.client("sqs"))
        provision.register_devices(provision.load_fleet())
        yield dict(os.environ)
    finally:
        server.stop()
        clear()
        if not patched:
            moto_transactions.uninstall()
        os.environ.clear()
        os.environ.update(saved)


class _Citizens:
    """One registered citizen with a linked phone per deposit, so every run is a first credit."""

    def __init__(self) -> None:
        self.n = 0

    def new(self) -> tuple[str, str]:
        from bench.phones import register_in_process

        self.n += 1
        citizen_id, phone = f"cold-{self.n:04d}", f"0109100{self.n:04d}"
        register_in_process(citizen_id, "cold", phone)
        return citizen_id, phone

    def check_credited(self, citizen_id: str, event_id: str, result: Any) -> None:
        from moto.iotdata.models import iotdata_backends

        from chalicelib import wiring

        if result.get("batchItemFailures"):
            raise RuntimeError(f"the deposit failed: {result}")
        balance = wiring.citizens().profile(citizen_id).balance
        if balance != POINTS:
            raise RuntimeError(f"{citizen_id}: balance {balance}, expected {POINTS}")
        acks = [
            json.loads(payload)
            for _, payload in iotdata_backends[ACCOUNT][REGION].published_payloads
        ]
        if not any(a.get("event_id") == event_id and a.get("status") == "credited" for a in acks):
            raise RuntimeError(f"no credited ack published for {event_id}")


def run(repeats: int = 7) -> dict[str, Any]:
    """Cold-start figures, each the median (min, max) of `repeats` fresh processes."""
    app_code = _PRELUDE + _APP + _WRITE
    boto3_code = _PRELUDE + _BOTO3 + _WRITE
    from infra.bytecode import compile_app, remove_bytecode

    with _emulator() as env:
        from chalicelib import config

        citizens = _Citizens()
        table = config.table_name("citizens")
        # Nothing the children compile is kept: as on Lambda, whose /var/task is read-only.
        env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}

        def first_deposit(n: int) -> tuple[dict[str, Any], str]:
            citizen_id, phone = citizens.new()
            event_id = f"cold-evt-{n:06d}"
            out, wall = _child(
                app_code, {**env, "COLDSTART_EVENT": _deposit_event(event_id, phone)}
            )
            citizens.check_credited(citizen_id, event_id, out["result"])
            return {**out, "wall_ms": wall}, citizen_id

        app_runs: list[dict[str, Any]] = []
        source_runs: list[dict[str, Any]] = []
        boto3_runs: list[dict[str, Any]] = []
        for n in range(repeats + 1):  # the first of each is a warm-up (page cache, .pyc)
            # Before: chalicelib compiled from source at every cold start (no bytecode shipped)
            remove_bytecode()
            from_source, _ = first_deposit(2 * n)
            compile_app()  # after: the bytecode the deployment package ships
            out, citizen_id = first_deposit(2 * n + 1)
            b_out, b_wall = _child(
                boto3_code, {**env, "COLDSTART_TABLE": table, "COLDSTART_CITIZEN": citizen_id}
            )
            b_out["wall_ms"] = b_wall
            if n:
                source_runs.append(from_source)
                app_runs.append(out)
                boto3_runs.append(b_out)
        if any(r["awscrt_loaded"] for r in app_runs + boto3_runs):
            raise RuntimeError("awscrt was imported: it is not hidden")

        citizen_id, phone = citizens.new()
        counted, _ = _child(
            _COUNTING + _WRITE,
            {
                **env,
                "COLDSTART_EVENT": _deposit_event("cold-count-first", phone),
                "COLDSTART_EVENT_2": _deposit_event("cold-count-second", phone),
            },
        )
        for event_id, result in zip(
            ("cold-count-first", "cold-count-second"), counted["results"], strict=True
        ):
            if result.get("batchItemFailures"):
                raise RuntimeError(f"the counted deposit {event_id} failed: {result}")

    def col(runs: list[dict[str, Any]], key: str) -> list[float]:
        return [float(r[key]) for r in runs]

    def ratios(a: list[float], b: list[float]) -> dict[str, float]:
        pairs = [x / y for x, y in zip(a, b, strict=True)]
        return {
            "of_medians": round(statistics.median(a) / statistics.median(b), 3),
            "pairwise_median": round(statistics.median(pairs), 3),
            "pairwise_min": round(min(pairs), 3),
            "pairwise_max": round(max(pairs), 3),
        }

    counts = counted["counts"]

    def dynamodb_requests(phase: str) -> int:
        return sum(v for k, v in counts[phase]["requests"].items() if k.startswith("dynamodb:"))

    return {
        "repeats": repeats,
        "conditions": "fresh interpreter per run, awscrt hidden, moto server in the parent "
        "(AWS_ENDPOINT_URL), POWERTOOLS_LOG_LEVEL=INFO, metrics on; chalicelib's bytecode "
        "compiled ahead as the package ships it (infra/bytecode.py; `_chalicelib_from_source`: "
        "without it, the figure before), app.py compiled at import as on Lambda, nothing "
        "written back; times in ms; in-process times exclude interpreter start-up, wall "
        "includes it",
        "import_app_ms": _summary(col(app_runs, "import_ms")),
        "import_boto3_ms": _summary(col(boto3_runs, "import_ms")),
        "first_deposit_ms": _summary(col(app_runs, "first_ms")),
        "import_app_and_first_deposit_ms": _summary(col(app_runs, "total_ms")),
        "import_app_and_first_deposit_ms_chalicelib_from_source": _summary(
            col(source_runs, "total_ms")
        ),
        "boto3_client_ms": _summary(col(boto3_runs, "client_ms")),
        "boto3_get_item_ms": _summary(col(boto3_runs, "get_item_ms")),
        "import_boto3_client_get_item_ms": _summary(col(boto3_runs, "total_ms")),
        "wall_app_process_ms": _summary(col(app_runs, "wall_ms")),
        "wall_boto3_process_ms": _summary(col(boto3_runs, "wall_ms")),
        "ratio_import_app_vs_boto3": {
            **ratios(col(app_runs, "import_ms"), col(boto3_runs, "import_ms")),
            "target": 1.25,
        },
        "ratio_first_deposit_vs_boto3_get_item": {
            **ratios(col(app_runs, "total_ms"), col(boto3_runs, "total_ms")),
            "target": 1.5,
        },
        "ratio_first_deposit_vs_boto3_get_item_chalicelib_from_source": ratios(
            col(source_runs, "total_ms"), col(boto3_runs, "total_ms")
        ),
        "ratio_wall_process": ratios(col(app_runs, "wall_ms"), col(boto3_runs, "wall_ms")),
        "first_invocation_builds": {
            phase: {
                "botocore_sessions": counts[phase]["sessions"],
                "clients": counts[phase]["clients"],
                "load_service_model_calls": counts[phase]["load_service_model"],
                "botocore_files_read": counts[phase]["files_read"],
            }
            for phase in ("import", "first")
        },
        "second_invocation_builds": {
            "botocore_sessions": counts["second"]["sessions"],
            "clients": counts["second"]["clients"],
            "load_service_model_calls": counts["second"]["load_service_model"],
        },
        "requests_first_deposit": counts["first"]["requests"],
        "requests_second_deposit": counts["second"]["requests"],
        "dynamodb_requests_per_credited_deposit": {
            "first (cold)": dynamodb_requests("first"),
            "second (warm)": dynamodb_requests("second"),
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 7), indent=2))
