"""The whole system on one machine (DESIGN §7): moto server, mosquitto with mTLS, the IoT
rules engine and data-plane bridge, the real Chalice handlers behind AWS-like event sources,
and the Chalice API behind a local API Gateway. `LocalStack.start()` brings it all up and
writes `<state>/stack.json`; `stop()` takes it down in reverse order."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.errors import PortInUseError
from infra.stage import stage_environment

log = logging.getLogger("infra.local")

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
BACKEND_IDENTITY = "gimhae-backend"
# Lambda polls a queue with several concurrent pollers; 4 per queue keep the Lambda workers
# busy on the 2-core development machine (bench/throughput.py: 2 give ~20% fewer credits/s,
# 6 no more).
DEFAULT_SQS_WORKERS = 4
# The event sources' handlers run in this many worker processes (Lambda's containers), so
# that they do not share the stack's interpreter and its GIL with moto server.
DEFAULT_LAMBDA_WORKERS = 3
# The journal is checkpointed when it reaches this size (~6,500 credited deposits at ~5 KB
# each): replaying it after a crash takes ~8 s (~2,400 changes/s), and a checkpoint (which
# holds requests while it writes the snapshot: 1.6-3.5 s at 50,000 rows) comes rarely.
DEFAULT_CHECKPOINT_MB = 32.0
CHECKPOINT_POLL_S = 2.0


@dataclass
class StackOptions:
    state_dir: Path = ROOT / ".local"
    api_port: int = 8000
    aws_port: int = 5000
    mqtt_port: int = 8883
    fleet_file: Path = ROOT / "iot" / "fleet" / "yeonji-park.json"
    projects_file: Path | None = ROOT / "infra" / "data" / "projects-sample.json"
    """The project registry loaded at start (new ids only: idempotent); None: none."""
    sqs_visibility_timeout: int | None = None
    demo: bool = False
    sqs_workers: int = DEFAULT_SQS_WORKERS
    """Concurrent pollers per SQS queue, each invoking the handler with its own batch."""
    lambda_workers: int = DEFAULT_LAMBDA_WORKERS
    """Worker processes the event sources' handlers run in; 0: in the stack's process."""
    emulator_process: bool = True
    """moto server in a process of its own; False: in the stack's (tools that read its memory)."""
    journal: bool = True
    """Journal every change the emulator acknowledges (infra/local/journal.py): a killed
    stack comes back with it. False: only what the last checkpoint (a clean stop) kept."""
    checkpoint_mb: float = DEFAULT_CHECKPOINT_MB
    console_tiles: str | None = None
    """A map-tile URL template for the console (`https://.../{z}/{x}/{y}.png`); None: the
    console draws district outlines only and fetches nothing from outside."""
    """A checkpoint (snapshot + new empty journal) once the journal holds this much."""


def port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def use_in_process_emulator(phone_hash_key: str) -> None:
    """Configure this process for the dev stage on moto's in-process `mock_aws` (tests,
    benchmarks): fake credentials, no endpoint override, the emulator's IoT data host."""
    for name, value in stage_environment("dev").items():
        os.environ.setdefault(name, value)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "PHONE_HASH_KEY": phone_hash_key,
            # moto answers the IoT data plane at its generic host, not an account endpoint.
            "IOT_DATA_ENDPOINT": f"https://data-ats.iot.{REGION}.amazonaws.com",
        }
    )
    for name in ("PHONE_HASH_KEY_PARAMETER", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    from infra.local import moto_corrections

    moto_corrections.install(moto_corrections.IN_PROCESS)  # each listed with what it corrects


def display_path(path: Path) -> str:
    """Relative to the repository when inside it (DESIGN §7), absolute otherwise."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())


@dataclass
class LocalStack:
    options: StackOptions
    timings: dict[str, float] = field(default_factory=dict)
    restored: bool = False
    _stops: list[Callable[[], None]] = field(default_factory=list)
    _checkpoint_lock: threading.Lock = field(default_factory=threading.Lock)
    _stop_checkpoints: threading.Event = field(default_factory=threading.Event)
    replayed: int = 0

    @property
    def stack_file(self) -> Path:
        return self.options.state_dir / "stack.json"

    def start(self) -> dict[str, Any]:
        started = time.monotonic()
        o = self.options
        for port, what, option in (
            (o.aws_port, "AWS emulator", "--aws-port"),
            (o.mqtt_port, "MQTT broker", "--mqtt-port"),
            (o.api_port, "API", "--api-port"),
        ):
            if not port_free(port):
                raise PortInUseError(port, what, option)
        # before anything starts: a missing broker is the one prerequisite pip cannot install
        from infra.local.broker import find_mosquitto

        find_mosquitto()
        o.state_dir.mkdir(parents=True, exist_ok=True)
        o.state_dir.chmod(0o700)  # keys, the snapshot and its journal: the owner's alone
        self.stack_file.unlink(missing_ok=True)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - started
        return self._write_stack_file()

    def _step(self, name: str, started: float) -> None:
        self.timings[name] = time.monotonic() - started

    def _start_all(self) -> None:
        o = self.options
        # 0. The test clock (infra/local/stack_clock.py): this process's app (the API) reads
        # the stack's now, before anything binds the real one; the workers install it too.
        from infra.local import stack_clock

        self.clock = stack_clock.install(stack_clock.path(o.state_dir))
        self._stops.append(stack_clock.uninstall)
        t = time.monotonic()
        # 1. Identities: CA and certificates, the dev token issuer, the phone-hash key.
        from infra.local import pki
        from infra.local.broker import DATA_PLANE_IDENTITY
        from infra.local.dev_issuer import ensure_issuer

        certs_dir = o.state_dir / "certs"
        certs_dir.mkdir(parents=True, exist_ok=True)
        self.ca = pki.ensure_ca(certs_dir)
        self.server_cert = pki.ensure_cert(
            certs_dir, self.ca, "mqtt-broker", server=True, sans=("127.0.0.1", "localhost")
        )
        self.backend_cert = pki.ensure_cert(certs_dir, self.ca, BACKEND_IDENTITY)
        self.data_plane_identity = DATA_PLANE_IDENTITY
        self.data_plane_cert = pki.ensure_cert(certs_dir, self.ca, DATA_PLANE_IDENTITY)
        self.fleet = json.loads(o.fleet_file.read_text(encoding="utf-8"))
        self.city = str(self.fleet.get("city", "gimhae"))
        self.device_certs = {
            d["device_id"]: pki.ensure_cert(certs_dir, self.ca, d["device_id"])
            for d in self.fleet["devices"]
        }
        # Devices provisioned at run time by `python -m iot provision` (their keys stay in
        # their own folders): granted again at every start.
        from infra.local.device_requests import known_devices

        self.provisioned = {r["device_id"]: r for r in known_devices(o.state_dir)}
        self.device_types = {d["device_id"]: str(d["type"]) for d in self.fleet["devices"]}
        self.device_types.update({d: str(r["type"]) for d, r in self.provisioned.items()})
        for record in self.provisioned.values():
            self.device_certs.setdefault(
                record["device_id"],
                pki.CertPaths(Path(record["cert_file"]), Path(record["key_file"])),
            )
        issuer = ensure_issuer(o.state_dir)
        self._step("identities", t)

        # 2. The environment the Lambda handlers see: the dev stage plus local endpoints.
        aws_url = f"http://127.0.0.1:{o.aws_port}"
        env = stage_environment("dev")
        env.pop("PHONE_HASH_KEY_PARAMETER", None)
        env.update(issuer.env())
        env.update(
            {
                "CITY": self.city,
                "AWS_ENDPOINT_URL": aws_url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "PHONE_HASH_KEY": self._phone_hash_key(),
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                # EMF metrics would print a JSON document per batch on the console.
                "POWERTOOLS_METRICS_DISABLED": os.environ.get(
                    "POWERTOOLS_METRICS_DISABLED", "true"
                ),
            }
        )
        for inherited in ("AWS_PROFILE", "IOT_DATA_ENDPOINT", "PHONE_HASH_KEY_PARAMETER"):
            os.environ.pop(inherited, None)
        os.environ.update(env)
        from chalicelib import wiring

        wiring.clear()  # settings and clients built under another environment are stale

        # 3. The AWS emulator: moto server, in a process of its own (infra/local/emulator.py).
        t = time.monotonic()
        from infra.local.emulator import Emulator

        self.emulator = Emulator("127.0.0.1", o.aws_port, own_process=o.emulator_process)
        self._stops.append(self.emulator.stop)
        self.emulator.start()
        # What the last checkpoint kept, and the journal of every change after it
        # (infra/local/journal.py); checkpointed after provisioning, when the journal grows
        # and at this stop, after every event source has stopped and before the emulator
        # does (stops run last-in, first-out).
        restored = self.emulator.call("infra.local.journal:restore", o.state_dir)
        self.restored = restored is not None
        self.replayed = int((restored or {}).get("replayed", 0))
        stream_positions: dict[str, dict[str, str]] = (restored or {}).get("positions") or {}
        self._stops.append(self._save_state)
        # What would reach people (SMS codes, operators' alerts) lands in the local outbox
        # (infra/local/outbox.py).
        from chalicelib.config import alerts_topic_name

        self.emulator.call(
            "infra.local.outbox:install_sms_sink", str(o.state_dir), alerts_topic_name()
        )
        self._stops.append(lambda: self.emulator.call("infra.local.outbox:uninstall_sms_sink"))
        self._step("aws_emulator", t)

        # 4. Resources, each from its one source.
        t = time.monotonic()
        import boto3

        from infra.local import provision

        session = boto3.session.Session(region_name=REGION)
        # One SQS client for every poller of every queue (sqs_workers per queue): a pool
        # smaller than that discards connections ("Connection pool is full").
        from botocore.config import Config as ClientConfig

        self.sqs = session.client(
            "sqs", config=ClientConfig(max_pool_connections=max(10, 8 * o.sqs_workers))
        )
        self.iot = session.client("iot")
        self.iot_data = session.client("iot-data")
        tables = provision.create_tables()
        os.environ.update(provision.stream_environment(session.client("dynamodb")))
        self.queue_refs = provision.create_queues(self.sqs, o.sqs_visibility_timeout)
        notifications = provision.create_notifications(session.client("sns"), session.client("s3"))
        os.environ["ALERTS_TOPIC_ARN"] = notifications["alerts_topic_arn"]
        os.environ.update(provision.create_push_applications(session.client("sns")))
        os.environ["PAYOUT_KMS_KEY_ID"] = provision.create_data_key(session.client("kms"))
        self.resources = provision.resources_document(tables, self.queue_refs, notifications)
        wiring.clear()  # the topic and the key are settings too
        # the fleet file's devices and those provisioned at run time (their records)
        known = {**self.fleet, "devices": self.fleet["devices"] + self._provisioned_rows()}
        provision.register_devices(known)
        if o.projects_file is not None:
            loading = time.monotonic()
            provision.load_projects(o.projects_file)
            self._step("projects", loading)
        from iot.provisioning import index_locations

        index_locations(self.city)  # the state rows kept from before the location index
        provision.create_iot(
            self.iot,
            known,
            {d: str(c.cert_file) for d, c in self.device_certs.items()},
            self.city,
        )
        provision.create_topic_rules(self.iot, self.city, self.queue_refs)
        self._step("provisioning", t)
        # From here on every change is journaled: a kill at any later moment loses nothing
        # the emulator acknowledged.
        t = time.monotonic()
        self._checkpoint(stream_positions)
        self._step("checkpoint", t)

        # 5. The broker (IoT Core's transport) and the backend's own connection to it.
        t = time.monotonic()
        from infra.local.broker import Broker, fleet_grants
        from infra.local.mqtt import BackendMqtt

        broker = Broker(
            o.state_dir,
            o.mqtt_port,
            self.ca.cert_file,
            self.server_cert.cert_file,
            self.server_cert.key_file,
            fleet_grants(
                [(d["device_id"], d["type"]) for d in self.fleet["devices"]]
                + [(r["device_id"], r["type"]) for r in self.provisioned.values()],
                self.city,
            ),
            backend_identity=BACKEND_IDENTITY,
        )
        self._stops.append(broker.stop)
        broker.start()
        self.broker = broker
        self._watch_provisioned_devices()
        self.mqtt = BackendMqtt(
            "127.0.0.1",
            o.mqtt_port,
            str(self.ca.cert_file),
            str(self.backend_cert.cert_file),
            str(self.backend_cert.key_file),
            client_id=BACKEND_IDENTITY,
        )
        self._stops.append(self.mqtt.stop)
        self.mqtt.start()
        self._step("broker", t)

        # 6. The rest of IoT Core: data plane and shadows, then the rules engine.
        t = time.monotonic()
        from infra.local.rule_engine import RuleEngine
        from infra.local.shadow_bridge import ShadowTopicBridge

        # The data plane publishes from the emulator, on a connection of its own.
        self.emulator.call(
            "infra.local.emulator:connect_data_plane",
            "127.0.0.1",
            o.mqtt_port,
            str(self.ca.cert_file),
            str(self.data_plane_cert.cert_file),
            str(self.data_plane_cert.key_file),
            self.data_plane_identity,
        )
        self._stops.append(lambda: self.emulator.call("infra.local.emulator:disconnect_data_plane"))
        shadows = ShadowTopicBridge(self.mqtt, self.iot_data)
        self._stops.append(shadows.stop)
        shadows.start()
        self.rules = RuleEngine(self.mqtt, self.iot, self.sqs, clock_ms=self.clock.time_ms)
        self._stops.append(self.rules.stop)
        self.rules.start()
        self._step("iot_core", t)

        # 7. The real Chalice app: event sources and schedules, then the API.
        t = time.monotonic()
        from chalice.config import Config

        import app as app_module
        from infra.local.api_gateway import serve
        from infra.local.event_sources import event_sources_for_app
        from infra.local.stream_source import DynamoDbStreamEventSource

        app = app_module.app

        def queue_url_for(name: str) -> tuple[str, str]:
            ref = self.queue_refs.get(name)
            if ref is not None:
                return ref.url, ref.arn
            # Not provisioned as an event source's queue (a stream's on-failure queue).
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            return str(url), str(attributes["Attributes"]["QueueArn"])

        dynamodb = session.client("dynamodb")

        def stream_arn_for(arn: str) -> str:
            # An app's on_dynamodb_record names its table's stream by ARN; here the
            # emulator's stream of the table with that name is the one to read.
            table = arn.split(":table/", 1)[-1].split("/", 1)[0]
            return str(dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"])

        sandboxes = self.sandboxes = None
        if o.lambda_workers:
            from infra.local.lambda_sandboxes import LambdaSandboxes

            sandboxes = self.sandboxes = LambdaSandboxes(
                "app", o.lambda_workers, clock_file=self.clock.file
            )
            self._stops.append(sandboxes.stop)  # after every event source has stopped
            sandboxes.start()
        sources, scheduler = event_sources_for_app(
            app,
            app_module,
            sqs_client=self.sqs,
            streams_client=session.client("dynamodbstreams"),
            queue_url_for=queue_url_for,
            stream_arn_for=stream_arn_for,
            region=REGION,
            state_dir=o.state_dir,
            sqs_concurrency=o.sqs_workers,
            sandboxes=sandboxes,
            clock=self.clock.now,
        )
        for source in sources:
            if isinstance(source, DynamoDbStreamEventSource):
                source.resume_after((stream_positions or {}).get(source.function_name, {}))
            self._stops.append(source.stop)
            source.start()

        def signal_sources() -> None:  # runs before their stops: their last polls end together
            for source in sources:
                source.signal_stop()

        self._stops.append(signal_sources)
        from infra.local import stream_control

        stream_sources = [s for s in sources if isinstance(s, DynamoDbStreamEventSource)]
        scheduler.answer(stream_control.KIND, stream_control.answerer(stream_sources))
        self._stops.append(scheduler.stop)
        scheduler.start()
        self.sources = sources
        config = Config.create(chalice_stage="dev", app_name=app.app_name)
        from infra.local.console_host import ConsoleHost
        from infra.local.dev_issuer import ensure_issuer

        console = ConsoleHost(ensure_issuer(o.state_dir), tiles=o.console_tiles)
        server = serve(app, config, "127.0.0.1", o.api_port, console=console)
        thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
        thread.start()

        def stop_api() -> None:
            server.shutdown()
            server.server.server_close()

        self._stops.append(stop_api)
        if o.journal:
            self._keep_journal_bounded()
        self._step("app", t)

    def _watch_provisioned_devices(self) -> None:
        """Grant a device provisioned while the stack runs (infra.local.device_requests)."""
        from infra.local import pki
        from infra.local.broker import fleet_grants
        from infra.local.device_requests import ProvisionedDeviceWatcher

        def grant(record: dict[str, Any]) -> None:
            device_id = str(record["device_id"])
            self.broker.add_devices(fleet_grants([(device_id, str(record["type"]))], self.city))
            self.device_certs[device_id] = pki.CertPaths(
                Path(record["cert_file"]), Path(record["key_file"])
            )
            self.device_types[device_id] = str(record["type"])
            time.sleep(0.1)  # mosquitto re-reads its ACL on its next loop turn
            if self.stack_file.exists():
                self._write_stack_file()
            log.info("device %s provisioned: granted its topics", device_id)

        watcher = ProvisionedDeviceWatcher(self.options.state_dir, grant)
        watcher.mark_known()
        self._stops.append(watcher.stop)
        watcher.start()

    def _provisioned_rows(self) -> list[dict[str, Any]]:
        """Registry rows of the devices provisioned at run time (in their records)."""
        rows = []
        for record in self.provisioned.values():
            row = record.get("registry")
            if (
                isinstance(row, dict)
                and row.get("device_id") == record["device_id"]
                and Path(str(record.get("cert_file"))).is_file()
            ):
                rows.append(row)
        return rows

    def _stream_positions(self) -> dict[str, dict[str, str]]:
        from infra.local.stream_source import DynamoDbStreamEventSource

        return {
            source.function_name: source.positions()
            for source in getattr(self, "sources", [])
            if isinstance(source, DynamoDbStreamEventSource)
        }

    def _checkpoint(self, positions: dict[str, dict[str, str]]) -> None:
        """Snapshot + a new empty journal. The positions are read before the snapshot is
        taken: each names a record the snapshot holds (what follows is delivered again)."""
        with self._checkpoint_lock:
            self.emulator.call(
                "infra.local.journal:checkpoint",
                self.options.state_dir,
                positions,
                self.options.journal,
            )

    def _save_state(self) -> None:
        self._stop_checkpoints.set()
        started = time.monotonic()
        self._checkpoint(self._stream_positions())
        self.timings["save_state"] = time.monotonic() - started
        log.info("emulator state kept in %s", self.options.state_dir)

    def _keep_journal_bounded(self) -> None:
        """A checkpoint whenever the journal passes `checkpoint_mb` (in its own thread)."""
        limit = self.options.checkpoint_mb * 1024 * 1024

        def run() -> None:
            while not self._stop_checkpoints.wait(CHECKPOINT_POLL_S):
                try:
                    if self.emulator.call("infra.local.journal:journal_bytes") >= limit:
                        started = time.monotonic()
                        self._checkpoint(self._stream_positions())
                        log.info("checkpoint in %.2fs", time.monotonic() - started)
                except Exception as e:  # the emulator is stopping; the next poll says
                    log.warning("checkpoint failed: %s", e)

        thread = threading.Thread(target=run, name="checkpoints", daemon=True)
        thread.start()

        def stop() -> None:
            self._stop_checkpoints.set()
            thread.join(30)

        self._stops.append(stop)

    def _phone_hash_key(self) -> str:
        key_file = self.options.state_dir / "phone-hash-key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32), encoding="utf-8")
            key_file.chmod(0o600)
        return key_file.read_text(encoding="utf-8").strip()

    def _write_stack_file(self) -> dict[str, Any]:
        o = self.options
        document = {
            "api_url": f"http://127.0.0.1:{o.api_port}",
            "aws_endpoint_url": f"http://127.0.0.1:{o.aws_port}",
            "region": REGION,
            "mqtt": {
                "host": "127.0.0.1",
                "port": o.mqtt_port,
                "ca_file": display_path(self.ca.cert_file),
                "city": self.city,
                "devices": {
                    device_id: {
                        "type": self.device_types.get(device_id),
                        "cert_file": display_path(paths.cert_file),
                        "key_file": display_path(paths.key_file),
                    }
                    for device_id, paths in self.device_certs.items()
                },
            },
            # Added to DESIGN §7's shape: what to name with boto3 or the AWS CLI
            # (`python -m infra.local resources`, docs/local-stack.md).
            "resources": self.resources,
        }
        tmp = self.stack_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.stack_file)
        return document

    def stop(self) -> None:
        self.stack_file.unlink(missing_ok=True)
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("stopping %s failed", getattr(stop, "__qualname__", stop))


def free_port() -> int:
    """A loopback port nobody holds right now (for stacks started side by side)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(
    state_dir: Path,
    *,
    api_port: int | None = None,
    aws_port: int | None = None,
    mqtt_port: int | None = None,
    extra: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
    **popen: Any,
) -> Any:
    """Start `python -m infra.local up` as a child process (tests and benchmarks).

    The child gets this environment minus AWS settings (the stack sets its own), plus
    `environment` (settings for the stack's handlers, e.g. a shorter silence threshold).
    """
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(environment or {})
    command = [
        sys.executable, "-m", "infra.local", "up",
        "--state-dir", str(state_dir),
        "--api-port", str(api_port or free_port()),
        "--aws-port", str(aws_port or free_port()),
        "--mqtt-port", str(mqtt_port or free_port()),
        *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, **popen)
