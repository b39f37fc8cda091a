"""The minimal device client that runs on robots and shelters (and that end-to-end tests use).

A class around the awsiotsdk MQTT5 client: mTLS with the device certificate, client id =
thing name, a last will on the status topic. The SDK reconnects by itself; `RobotClient`
resends a deposit until the cloud acknowledges it (DESIGN §3).

CLI: `python -m iot.device deposit --device robot-001 --code 123456 --can 3 --pet 2`
reads the broker and the device's credentials from `.local/stack.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from iot import topics

log = logging.getLogger(__name__)

NOT_AUTHORIZED = 135
ACK_LOG_SIZE = 1000
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_KST = dt.timezone(dt.timedelta(hours=9))


class DeviceError(RuntimeError):
    """An MQTT operation of the device failed."""


class NotAuthorizedError(DeviceError):
    """The broker answered NOT_AUTHORIZED (135): the topic is not this device's."""


class AckTimeout(DeviceError):
    """The cloud did not acknowledge a deposit in time."""


def new_event_id() -> str:
    """A ULID-like id: 26 chars of Crockford base32, 48-bit ms time then 80 random bits."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _encode(payload: dict[str, Any] | bytes) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class DeviceClient:
    """One device's MQTT5 connection.

    `flow_control=False` turns off the SDK's AWS IoT Core flow control (about 100 publishes/s
    per connection); leave it on except for local load tests.
    """

    def __init__(
        self,
        device_id: str,
        host: str,
        port: int,
        ca_file: str,
        cert_file: str,
        key_file: str,
        city: str = topics.DEFAULT_CITY,
        status_topic: str | None = None,
        *,
        flow_control: bool = True,
    ) -> None:
        self.device_id = device_id
        self.host = host
        self.port = port
        self.ca_file = str(ca_file)
        self.cert_file = str(cert_file)
        self.key_file = str(key_file)
        self.city = city
        self.status_topic = status_topic or self.default_status_topic(city, device_id)
        self.flow_control = flow_control
        self._lock = threading.Lock()
        self._callbacks: dict[str, list[Callable[[str, bytes], None]]] = {}
        self._client: mqtt5.Client | None = None
        self._first: Future[None] | None = None
        self._stopped = threading.Event()
        self._connected = threading.Event()

    @staticmethod
    def default_status_topic(city: str, device_id: str) -> str | None:
        """Where the last will goes; a device type names its status topic."""
        return None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _build(self) -> mqtt5.Client:
        will = None
        if self.status_topic:
            will = mqtt5.PublishPacket(
                topic=self.status_topic,
                payload=_encode({"online": False}),
                qos=mqtt5.QoS.AT_LEAST_ONCE,
            )
        flow = (
            mqtt5.ExtendedValidationAndFlowControlOptions.AWS_IOT_CORE_DEFAULTS
            if self.flow_control
            else mqtt5.ExtendedValidationAndFlowControlOptions.NONE
        )
        return mqtt5_client_builder.mtls_from_path(
            endpoint=self.host,
            port=self.port,
            cert_filepath=self.cert_file,
            pri_key_filepath=self.key_file,
            ca_filepath=self.ca_file,
            client_id=self.device_id,
            enable_metrics_collection=False,
            extended_validation_and_flow_control_options=flow,
            keep_alive_interval_sec=60,
            will=will,
            min_reconnect_delay_ms=500,
            max_reconnect_delay_ms=30_000,
            on_publish_received=self._on_publish,
            on_lifecycle_connection_success=self._on_success,
            on_lifecycle_connection_failure=self._on_failure,
            on_lifecycle_disconnection=self._on_disconnect,
            on_lifecycle_stopped=lambda _data: self._stopped.set(),
        )

    def connect(self, timeout: float = 10) -> None:
        """Connect; raise DeviceError when the first attempt fails or times out.

        After a successful connect the SDK reconnects on its own and subscriptions are renewed.
        """
        if self._client is not None:
            return
        self._first = Future()
        self._stopped.clear()
        self._client = self._build()
        self._client.start()
        try:
            self._first.result(timeout)
        except FutureTimeout:
            self.disconnect()
            raise DeviceError(f"{self.device_id}: connect timed out after {timeout}s") from None
        except Exception as exc:
            self.disconnect()
            raise DeviceError(f"{self.device_id}: connect failed: {exc}") from exc

    def disconnect(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            client.stop()
            self._stopped.wait(5)

    def __enter__(self) -> DeviceClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    def _on_success(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        self._connected.set()
        first = self._first
        if first is not None and not first.done():
            first.set_result(None)
            return
        with self._lock:
            filters = list(self._callbacks)
        for topic_filter in filters:  # clean session: renew subscriptions
            self._require().subscribe(self._subscribe_packet(topic_filter))

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        first = self._first
        if first is not None and not first.done():
            first.set_exception(DeviceError(str(data.exception)))
        else:
            log.warning("%s: reconnect failed: %s", self.device_id, data.exception)

    def _on_disconnect(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self._connected.clear()
        if self._client is not None:
            log.warning("%s: disconnected: %s", self.device_id, data.exception)

    def _require(self) -> mqtt5.Client:
        if self._client is None:
            raise DeviceError(f"{self.device_id}: not connected")
        return self._client

    def publish_async(self, topic: str, payload: dict[str, Any] | bytes, qos: int = 1) -> Any:
        """Queue a publish; the future's result has `.puback.reason_code` on QoS 1."""
        packet = mqtt5.PublishPacket(topic=topic, payload=_encode(payload), qos=mqtt5.QoS(qos))
        return self._require().publish(packet)

    def publish(
        self, topic: str, payload: dict[str, Any] | bytes, qos: int = 1, timeout: float = 10
    ) -> int:
        """Publish and return the PUBACK reason code (0 for QoS 0)."""
        future = self.publish_async(topic, payload, qos)
        try:
            result = future.result(timeout)
        except FutureTimeout:
            raise DeviceError(f"{self.device_id}: no PUBACK on {topic} in {timeout}s") from None
        return _puback_code(result, topic)

    @staticmethod
    def _subscribe_packet(topic_filter: str) -> mqtt5.SubscribePacket:
        return mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=topic_filter, qos=mqtt5.QoS(1))]
        )

    def subscribe(
        self, topic_filter: str, callback: Callable[[str, bytes], None], timeout: float = 10
    ) -> None:
        """Subscribe (QoS 1); callback(topic, payload) runs on the SDK's thread."""
        suback = self._require().subscribe(self._subscribe_packet(topic_filter)).result(timeout)
        code = int(suback.reason_codes[0]) if suback.reason_codes else -1
        if code == NOT_AUTHORIZED:
            raise NotAuthorizedError(f"{self.device_id}: may not subscribe to {topic_filter}")
        if code < 0 or code >= 0x80:
            raise DeviceError(f"{self.device_id}: subscribe to {topic_filter} refused ({code})")
        with self._lock:
            self._callbacks.setdefault(topic_filter, []).append(callback)

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        topic = packet.topic
        payload = packet.payload if isinstance(packet.payload, bytes) else bytes(packet.payload)
        with self._lock:
            callbacks = [
                cb
                for f, cbs in self._callbacks.items()
                if topics.topic_matches(f, topic)
                for cb in cbs
            ]
        for callback in dict.fromkeys(callbacks):
            try:
                callback(topic, payload)
            except Exception:
                log.exception("%s: callback for %s failed", self.device_id, topic)


def _puback_code(result: Any, topic: str) -> int:
    puback = getattr(result, "puback", None)
    code = getattr(puback, "reason_code", None)
    code = 0 if code is None else int(code)
    if code == NOT_AUTHORIZED:
        raise NotAuthorizedError(f"not authorized to publish on {topic}")
    return code


class RobotClient(DeviceClient):
    """A recycling robot: deposits with acks, status with a last will."""

    @staticmethod
    def default_status_topic(city: str, device_id: str) -> str | None:
        return topics.robot_status(city, device_id)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deposits_topic = topics.deposits(self.city, self.device_id)
        self.ack_topic = topics.deposit_ack(self.city, self.device_id)
        self._pending: dict[str, Future[dict[str, Any]]] = {}
        self._ack_lock = threading.Lock()
        self._ack_subscribed = False
        # The latest acks received, in arrival order: what the robot's screen and log show.
        self.ack_log: deque[dict[str, Any]] = deque(maxlen=ACK_LOG_SIZE)

    def _ensure_ack_subscription(self) -> None:
        with self._ack_lock:
            if not self._ack_subscribed:
                self.subscribe(self.ack_topic, self._on_ack)
                self._ack_subscribed = True

    def _on_ack(self, topic: str, payload: bytes) -> None:
        try:
            ack = json.loads(payload)
        except ValueError:
            log.warning("%s: unreadable ack %r", self.device_id, payload[:200])
            return
        event_id = ack.get("event_id") if isinstance(ack, dict) else None
        with self._lock:
            if isinstance(ack, dict):
                self.ack_log.append(ack)
            future = self._pending.get(event_id) if isinstance(event_id, str) else None
        if future is not None and not future.done():
            future.set_result(ack)

    def deposit(
        self, event: dict[str, Any], timeout: float = 10, resend_every: float = 2.0
    ) -> dict[str, Any]:
        """Publish a deposit and return its ack, resending the same event until acked.

        Raises AckTimeout when no ack came within `timeout` seconds; NotAuthorizedError when
        the broker refuses the topic. Safe to call from several threads at once.
        """
        if not event.get("event_id"):
            event = {**event, "event_id": new_event_id()}
        event_id = str(event["event_id"])
        payload = _encode(event)
        self._ensure_ack_subscription()
        with self._lock:
            future = self._pending.get(event_id)
            if future is None:
                future = Future()
                self._pending[event_id] = future
        deadline = time.monotonic() + timeout
        try:
            while True:
                sent = self.publish_async(self.deposits_topic, payload)
                next_send = min(time.monotonic() + resend_every, deadline)
                while True:
                    if sent is not None and sent.done():
                        done, sent = sent, None
                        if done.exception() is None:  # raises NotAuthorizedError on 135
                            _puback_code(done.result(), self.deposits_topic)
                    remaining = next_send - time.monotonic()
                    # poll briefly while the PUBACK is outstanding, to surface a refusal
                    wait = min(remaining, 0.05) if sent is not None else remaining
                    try:
                        return future.result(max(0.0, wait))
                    except FutureTimeout:
                        pass
                    now = time.monotonic()
                    if now >= deadline:
                        raise AckTimeout(
                            f"{self.device_id}: no ack for {event_id} within {timeout}s"
                        )
                    if now >= next_send:
                        break
        finally:
            with self._lock:
                if self._pending.get(event_id) is future:
                    del self._pending[event_id]

    def publish_raw(self, payload: bytes) -> int:
        """Publish arbitrary bytes on the deposits topic (tests: malformed JSON)."""
        self._ensure_ack_subscription()
        return self.publish(self.deposits_topic, payload)

    def status(self, bins: dict[str, float], fault: str | None = None, fw: str = "dev") -> int:
        return self.publish(
            self.status_topic or topics.robot_status(self.city, self.device_id),
            {
                "ts": dt.datetime.now(_KST).isoformat(timespec="seconds"),
                "online": True,
                "bins": bins,
                "fault": fault,
                "fw": fw,
            },
        )


class ShelterClient(DeviceClient):
    """A smart shelter: telemetry and status with a last will."""

    @staticmethod
    def default_status_topic(city: str, device_id: str) -> str | None:
        return topics.shelter_status(city, device_id)

    def telemetry(self, readings: dict[str, Any], qos: int = 1) -> int:
        body = {"ts": dt.datetime.now(_KST).isoformat(timespec="seconds"), **readings}
        return self.publish(topics.shelter_telemetry(self.city, self.device_id), body, qos)


# CLI -------------------------------------------------------------------------------------


def _resolve(path: str, stack_file: Path) -> str:
    p = Path(path)
    if p.is_absolute() or p.exists():
        return str(p)
    beside = stack_file.resolve().parent.parent / p
    return str(beside) if beside.exists() else str(p)


def _load_stack(stack_file: Path, device_id: str) -> dict[str, Any]:
    try:
        stack = json.loads(stack_file.read_text())
    except FileNotFoundError:
        raise SystemExit(
            f"{stack_file} not found: start the local stack (python -m infra.local up)"
        ) from None
    mqtt = stack["mqtt"]
    devices = mqtt.get("devices", {})
    if device_id not in devices:
        raise SystemExit(f"device {device_id!r} not in {stack_file} (known: {sorted(devices)})")
    return {
        "host": mqtt["host"],
        "port": int(mqtt["port"]),
        "ca_file": _resolve(mqtt["ca_file"], stack_file),
        "cert_file": _resolve(devices[device_id]["cert_file"], stack_file),
        "key_file": _resolve(devices[device_id]["key_file"], stack_file),
        "city": mqtt.get("city", topics.DEFAULT_CITY),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iot.device", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dep = sub.add_parser("deposit", help="send one deposit and print the ack")
    dep.add_argument("--device", required=True)
    who = dep.add_mutually_exclusive_group(required=True)
    who.add_argument("--code", help="6-digit one-time code from the app")
    who.add_argument("--phone", help="Korean mobile number")
    dep.add_argument("--can", type=int, default=0)
    dep.add_argument("--pet", type=int, default=0)
    dep.add_argument("--event-id", default=None)
    dep.add_argument("--stack", default=".local/stack.json")
    dep.add_argument("--timeout", type=float, default=15)
    args = parser.parse_args(argv)

    conf = _load_stack(Path(args.stack), args.device)
    citizen = {"code": args.code} if args.code else {"phone": args.phone}
    items = [
        {"material": m, "accepted": n, "rejected": 0}
        for m, n in (("can", args.can), ("pet", args.pet))
        if n
    ]
    event = {
        "event_id": args.event_id or new_event_id(),
        "citizen": citizen,
        "items": items,
        "occurred_at": dt.datetime.now(_KST).isoformat(timespec="seconds"),
    }
    robot = RobotClient(args.device, **conf)
    try:
        robot.connect()
        ack = robot.deposit(event, timeout=args.timeout)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        robot.disconnect()
    print(json.dumps(ack, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
