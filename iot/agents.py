"""What runs on a robot or a shelter: long-lived agents around the awsiotsdk MQTT5 client.

`iot/device.py` holds one connection's operations; an agent adds what a device in a park
needs to live for months unattended (DESIGN §3):

- a first connect retried with exponential backoff and full jitter (a whole park of robots
  coming back after a power cut must not hammer IoT Core in step); after the first connect
  the SDK reconnects by itself, with the same backoff and its default full jitter;
- a last will `{"online": false}` on the status topic (set by the client) and a heartbeat:
  status at least once a minute, so the health job never marks a live device offline;
- the robot: a durable outbox (iot/outbox.py). A deposit is committed to disk before it is
  published and leaves only when its ack comes; after a reconnect or a restart every pending
  deposit is resent with its `event_id`, and each ack goes once to a callback (the screen);
- the shelter: its shadow. It applies `desired.purifier`, then reports it on the standard
  shadow topics, and asks for its shadow on every connect, so a change made while it was
  offline is applied when it comes back.

Connection settings come from a device config file (written by `python -m iot provision`):
`{"device_id", "type", "city", "host", "port", "ca_file", "cert_file", "key_file",
"outbox"}`; relative paths are relative to the file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib import topics
from iot.device import DeviceClient, DeviceError, RobotClient, ShelterClient, new_event_id
from iot.outbox import Outbox

log = logging.getLogger(__name__)

_KST = dt.timezone(dt.timedelta(hours=9))
HEARTBEAT_S = 30.0  # twice a minute: one lost heartbeat never makes a device look silent
RESEND_AFTER_S = 5.0  # an unacked deposit is sent again after this long
FIRMWARE = "agent-1.0"
TRIM_EVERY_S = 3600.0  # acked deposits older than a week are forgotten, hourly

AckCallback = Callable[[dict[str, Any]], None]


def now_kst() -> str:
    return dt.datetime.now(_KST).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DeviceConfig:
    """One device's identity and connection, as `python -m iot provision` writes it."""

    device_id: str
    device_type: str
    host: str
    port: int
    ca_file: str
    cert_file: str
    key_file: str
    city: str = topics.DEFAULT_CITY
    outbox: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> DeviceConfig:
        path = Path(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
        base = path.resolve().parent

        def resolve(value: str) -> str:
            p = Path(value)
            return str(p if p.is_absolute() else base / p)

        known = {"device_id", "type", "host", "port", "ca_file", "cert_file", "key_file"}
        known |= {"city", "outbox"}
        return cls(
            device_id=str(doc["device_id"]),
            device_type=str(doc["type"]),
            host=str(doc["host"]),
            port=int(doc["port"]),
            ca_file=resolve(doc["ca_file"]),
            cert_file=resolve(doc["cert_file"]),
            key_file=resolve(doc["key_file"]),
            city=str(doc.get("city", topics.DEFAULT_CITY)),
            outbox=resolve(doc["outbox"]) if doc.get("outbox") else None,
            extra={k: v for k, v in doc.items() if k not in known},
        )

    def connection(self) -> dict[str, Any]:
        """Keyword arguments of a device client."""
        return {
            "host": self.host,
            "port": self.port,
            "ca_file": self.ca_file,
            "cert_file": self.cert_file,
            "key_file": self.key_file,
            "city": self.city,
        }


def backoff_delays(
    base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None
) -> Any:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**n)) for n = 0, 1, ...

    Full jitter spreads a fleet's retries evenly instead of in waves (the AWS architecture
    blog's result); the SDK's own reconnects use the same mode."""
    rng = rng or random.Random()
    attempt = 0
    while True:
        yield rng.uniform(0, min(cap_s, base_s * (2**attempt)))
        attempt = min(attempt + 1, 30)


class DeviceAgent:
    """The lifecycle shared by robots and shelters: connect with backoff, subscribe, beat.

    `start()` returns at once; the agent's thread connects (retrying until `stop()`), runs
    `on_connect`, then beats and runs `tick()` every `tick_s` while connected.
    """

    client: DeviceClient

    def __init__(
        self,
        config: DeviceConfig,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        tick_s: float = 0.2,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.config = config
        self.device_id = config.device_id
        self.heartbeat_s = heartbeat_s
        self.tick_s = tick_s
        self.connect_timeout_s = connect_timeout_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._last_beat = 0.0
        self.connects = 0  # successful first connects (the SDK's reconnects not counted)

    # lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"agent-{self.device_id}")
        self._thread.daemon = True
        self._thread.start()

    def wait_ready(self, timeout: float = 30) -> bool:
        """True once connected and subscribed (the first time)."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.client.disconnect()

    def __enter__(self) -> DeviceAgent:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self.client.connected

    def _run(self) -> None:
        delays = backoff_delays()
        while not self._stop.is_set():
            try:
                self.client.connect(self.connect_timeout_s)
                self.on_connect()
            except DeviceError as exc:
                self.client.disconnect()
                delay = next(delays)
                log.warning("%s: connect failed (%s); retry in %.1fs", self.device_id, exc, delay)
                self._stop.wait(delay)
                continue
            break
        if self._stop.is_set():
            return
        self.connects += 1
        self._ready.set()
        was_connected = True
        while not self._stop.is_set():
            connected = self.client.connected
            try:
                if connected and not was_connected:
                    log.info("%s: reconnected", self.device_id)
                    self.on_reconnect()
                if connected:
                    self._maybe_beat()
                    self.tick()
            except DeviceError as exc:  # the link dropped mid-operation: the SDK reconnects
                log.info("%s: %s", self.device_id, exc)
            except Exception:
                log.exception("%s: tick failed", self.device_id)
            was_connected = connected
            self._wake.wait(self.tick_s)
            self._wake.clear()

    def beat_now(self) -> None:
        """Send the status at the next tick (it changed: a bin filled, a fault)."""
        self._last_beat = 0.0
        self._wake.set()

    def _maybe_beat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= self.heartbeat_s:
            self._last_beat = now
            # QoS 1 but not awaited: a slow PUBACK must not hold the agent's loop
            self.client.publish_async(self.client.status_topic or "", self.status())

    # what a device type adds ---------------------------------------------------------------

    def on_connect(self) -> None:
        """Subscribe after the first connect (the client renews subscriptions itself)."""

    def on_reconnect(self) -> None:
        """The link came back (the SDK reconnected)."""
        self._last_beat = 0.0  # say at once that we are back: the last will said otherwise

    def tick(self) -> None:
        """Periodic work while connected."""

    def status(self) -> dict[str, Any]:
        return {"ts": now_kst(), "online": True, "fault": None, "fw": FIRMWARE}


class RobotAgent(DeviceAgent):
    """A recycling robot: deposits through a durable outbox, acks to a callback."""

    client: RobotClient

    def __init__(
        self,
        config: DeviceConfig,
        *,
        outbox: Outbox | None = None,
        on_ack: AckCallback | None = None,
        resend_after_s: float = RESEND_AFTER_S,
        max_in_flight: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self.client = RobotClient(config.device_id, **config.connection())
        if outbox is None:
            path = config.outbox or str(Path(config.cert_file).parent / "outbox.sqlite")
            outbox = Outbox(path)
        self.outbox = outbox
        self.on_ack = on_ack
        self.resend_after_s = resend_after_s
        self.max_in_flight = max_in_flight
        self.bins: dict[str, float] = {"can": 0.0, "pet": 0.0}
        self.fault: str | None = None
        self._acked = threading.Condition()
        self._resend_all = True  # after a (re)start: everything pending goes out at once
        self._next_trim = 0.0

    def on_connect(self) -> None:
        self.client.subscribe(self.client.ack_topic, self._on_ack)
        self._resend_all = True

    def on_reconnect(self) -> None:
        super().on_reconnect()
        self._resend_all = True

    def status(self) -> dict[str, Any]:
        return {**super().status(), "bins": dict(self.bins), "fault": self.fault}

    def deposit(
        self,
        citizen: dict[str, str],
        items: list[dict[str, Any]],
        occurred_at: str | None = None,
        event_id: str | None = None,
    ) -> str:
        """Keep a deposit in the outbox (durably) and queue it; returns its event id.

        Works offline: the deposit goes out when the robot is connected again."""
        event = {
            "event_id": event_id or new_event_id(),
            "citizen": citizen,
            "items": items,
            "occurred_at": occurred_at or now_kst(),
        }
        self.outbox.put(event)
        self._wake.set()
        return str(event["event_id"])

    def wait_for_ack(self, event_id: str, timeout: float = 10) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self._acked:
            while True:
                ack = self.outbox.ack_of(event_id)
                remaining = deadline - time.monotonic()
                if ack is not None or remaining <= 0:
                    return ack
                self._acked.wait(min(remaining, 0.5))

    def wait_drained(self, timeout: float = 30) -> bool:
        """True once no deposit is pending."""
        deadline = time.monotonic() + timeout
        with self._acked:
            while self.outbox.pending_count():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._acked.wait(min(remaining, 0.5))
        return True

    def tick(self) -> None:
        now = time.monotonic()
        if now >= self._next_trim:
            self._next_trim = now + TRIM_EVERY_S
            self.outbox.trim()
        if self._resend_all:
            self._resend_all = False
            due = self.outbox.pending(self.max_in_flight)
        else:
            cutoff = time.time() - self.resend_after_s
            due = self.outbox.pending(self.max_in_flight, sent_before=cutoff)
        for row in due:
            if not self.client.connected:
                return
            self.client.publish_async(self.client.deposits_topic, row.payload)
            self.outbox.mark_sent(row.event_id)

    def _on_ack(self, topic: str, payload: bytes) -> None:
        try:
            ack = json.loads(payload)
        except ValueError:
            log.warning("%s: unreadable ack %r", self.device_id, payload[:200])
            return
        event_id = ack.get("event_id") if isinstance(ack, dict) else None
        if not isinstance(event_id, str):
            log.warning("%s: ack without an event id: %r", self.device_id, ack)
            return
        first = self.outbox.acknowledge(event_id, ack)
        with self._acked:
            self._acked.notify_all()
        if first and self.on_ack is not None:
            try:
                self.on_ack(ack)
            except Exception:
                log.exception("%s: ack callback failed", self.device_id)


class ShelterAgent(DeviceAgent):
    """A smart shelter: telemetry, status, and the purifier its shadow desires."""

    client: ShelterClient

    def __init__(
        self,
        config: DeviceConfig,
        *,
        on_purifier: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self.client = ShelterClient(config.device_id, **config.connection())
        self.on_purifier = on_purifier
        self.purifier: str | None = None
        self.reports = 0

    def on_connect(self) -> None:
        shadow = topics.shadow(self.device_id)
        self.client.subscribe(f"{shadow}/update/delta", self._on_delta)
        self.client.subscribe(f"{shadow}/get/accepted", self._on_document)
        self.client.publish_async(f"{shadow}/get", b"{}")

    def on_reconnect(self) -> None:
        super().on_reconnect()
        # a change of desired made while offline: ask for the document again
        self.client.publish_async(f"{topics.shadow(self.device_id)}/get", b"{}")

    def status(self) -> dict[str, Any]:
        return super().status()

    def telemetry(self, readings: dict[str, Any], qos: int = 1) -> None:
        """Publish readings (not awaited: the shelter's loop never blocks on the network)."""
        body = {"ts": now_kst(), **readings}
        topic = topics.shelter_telemetry(self.config.city, self.device_id)
        self.client.publish_async(topic, body, qos)

    def _on_delta(self, topic: str, payload: bytes) -> None:
        state = _state(payload)
        if isinstance(state.get("purifier"), str):
            self._apply(state["purifier"])

    def _on_document(self, topic: str, payload: bytes) -> None:
        state = _state(payload)
        desired = state.get("desired") if isinstance(state.get("desired"), dict) else {}
        reported = state.get("reported") if isinstance(state.get("reported"), dict) else {}
        mode = desired.get("purifier") if desired else None
        # Compared with what this shelter runs, not with the shadow's reported state: a
        # shelter that restarts runs what the cloud desires even if it reported it before.
        runs_it = mode == self.purifier and (reported or {}).get("purifier") == mode
        if isinstance(mode, str) and not runs_it:
            self._apply(mode)

    def _apply(self, mode: str) -> None:
        """Run the purifier as desired, then report it (on the SDK's thread: never wait)."""
        self.purifier = mode
        if self.on_purifier is not None:
            try:
                self.on_purifier(mode)
            except Exception:
                log.exception("%s: purifier callback failed", self.device_id)
        self.client.publish_async(
            f"{topics.shadow(self.device_id)}/update",
            {"state": {"reported": {"purifier": mode}}},
        )
        self.reports += 1


def _state(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except ValueError:
        return {}
    state = doc.get("state") if isinstance(doc, dict) else None
    return state if isinstance(state, dict) else {}


def agent_for(config: DeviceConfig, **kwargs: Any) -> DeviceAgent:
    if config.device_type == "robot":
        return RobotAgent(config, **kwargs)
    if config.device_type == "shelter":
        return ShelterAgent(config, **kwargs)
    raise ValueError(f"unknown device type {config.device_type!r}")
