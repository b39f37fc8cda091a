"""The minimal device client that runs on robots and shelters (and that end-to-end tests use).

A class around the shared MQTT5 client (iot/mqtt5.py, awsiotsdk): mTLS with the device
certificate, client id = thing name, a last will on the status topic, IoT Core's flow
control. The SDK reconnects by itself; `RobotClient` resends a deposit until the cloud
acknowledges it (DESIGN §3).

The command line is `python -m iot` (iot/__main__.py); `python -m iot.device deposit` is
the same as `python -m iot deposit`.
"""

from __future__ import annotations

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
from typing import Any

from awscrt import mqtt5

from chalicelib import topics
from iot.device_lock import DeviceBusyError, DeviceLock
from iot.mqtt5 import NOT_AUTHORIZED, MqttClient, MqttError, NotAuthorizedError, puback_code

log = logging.getLogger(__name__)

__all__ = [
    "NOT_AUTHORIZED",
    "AckTimeout",
    "DeviceBusyError",
    "DeviceClient",
    "DeviceError",
    "NotAuthorizedError",
    "RobotClient",
    "ShelterClient",
    "main",
    "new_event_id",
]

ACK_LOG_SIZE = 1000
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_KST = dt.timezone(dt.timedelta(hours=9))

# An MQTT operation of the device failed (NotAuthorizedError is one: the broker answered
# NOT_AUTHORIZED (135) because the topic is not this device's). The device and the local
# stack's backend share one MQTT client (iot/mqtt5.py) and so its errors.
DeviceError = MqttError


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
    """One device's MQTT5 connection: client id = thing name, a last will on the status topic.

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
        exclusive: bool = True,
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
        # one process per identity on this machine (iot/device_lock.py)
        self.identity_lock = DeviceLock(device_id, host, port) if exclusive else None
        will = None
        if self.status_topic:
            will = mqtt5.PublishPacket(
                topic=self.status_topic,
                payload=_encode(topics.LAST_WILL),
                qos=mqtt5.QoS.AT_LEAST_ONCE,
            )
        self._mqtt = MqttClient(
            host,
            port,
            self.ca_file,
            self.cert_file,
            self.key_file,
            client_id=device_id,
            flow_control=flow_control,
            will=will,
            keep_alive_sec=60,
            min_reconnect_delay_ms=500,
            max_reconnect_delay_ms=30_000,
        )

    @staticmethod
    def default_status_topic(city: str, device_id: str) -> str | None:
        """Where the last will goes; a device type names its status topic."""
        return None

    @property
    def connected(self) -> bool:
        return self._mqtt.connected

    def claim(self) -> None:
        """Take this device's identity on this machine; DeviceBusyError when another
        process (or client) holds it. `connect` claims it too; a command line claims it
        first to fail at once instead of retrying."""
        if self.identity_lock is not None:
            self.identity_lock.acquire()

    def connect(self, timeout: float = 10) -> None:
        """Connect; raise DeviceError when the first attempt fails or times out, and
        DeviceBusyError when another process is connected as this device.

        After a successful connect the SDK reconnects on its own and subscriptions are renewed.
        """
        self.claim()
        try:
            self._mqtt.start(timeout)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Give the identity back (`disconnect` does)."""
        if self.identity_lock is not None:
            self.identity_lock.release()

    @property
    def sessions_taken_over(self) -> int:
        """How often another connection with this client id took the session over."""
        return self._mqtt.sessions_taken_over

    def disconnect(self) -> None:
        self._mqtt.stop()
        self.release()

    def __enter__(self) -> DeviceClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    def publish_async(
        self, topic: str, payload: dict[str, Any] | bytes, qos: int = 1
    ) -> Future[Any]:
        """Queue a publish; the future's result has `.puback.reason_code` on QoS 1."""
        return self._mqtt.publish_async(topic, _encode(payload), qos)

    def publish(
        self, topic: str, payload: dict[str, Any] | bytes, qos: int = 1, timeout: float = 10
    ) -> int:
        """Publish and return the PUBACK reason code (0 for QoS 0).

        NotAuthorizedError when the topic is not this device's; DeviceError when no PUBACK
        came within `timeout` seconds or the publish failed.
        """
        return self._mqtt.publish(topic, _encode(payload), qos, timeout)

    def subscribe(
        self, topic_filter: str, callback: Callable[[str, bytes], None], timeout: float = 10
    ) -> None:
        """Subscribe (QoS 1); callback(topic, payload) runs on the SDK's thread."""
        self._mqtt.subscribe(topic_filter, callback, qos=1, timeout=timeout)


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
                sent: Future[Any] | None = self.publish_async(self.deposits_topic, payload)
                next_send = min(time.monotonic() + resend_every, deadline)
                while True:
                    if sent is not None and sent.done():
                        done, sent = sent, None
                        if done.exception() is None:  # raises NotAuthorizedError on 135
                            puback_code(done.result(), self.deposits_topic)
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


def stack_connection(
    stack: dict[str, Any], device_id: str, resolve: Callable[[str], str]
) -> dict[str, Any]:
    """A device's broker and credentials from the local stack's stack.json (DESIGN §7), as
    keyword arguments of a device client; `resolve` makes its relative paths usable."""
    mqtt = stack["mqtt"]
    creds = mqtt["devices"][device_id]
    return {
        "host": mqtt["host"],
        "port": int(mqtt["port"]),
        "ca_file": resolve(mqtt["ca_file"]),
        "cert_file": resolve(creds["cert_file"]),
        "key_file": resolve(creds["key_file"]),
        "city": mqtt.get("city", topics.DEFAULT_CITY),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m iot.device deposit ...`: kept for those who typed it; the same command as
    `python -m iot deposit` (which has `publish`, `robot` and `shelter` beside it)."""
    from iot.__main__ import main as iot_main

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["deposit"]:
        print("usage: python -m iot.device deposit ... (see python -m iot --help)", file=sys.stderr)
        return 2
    return iot_main(args)


if __name__ == "__main__":
    sys.exit(main())
