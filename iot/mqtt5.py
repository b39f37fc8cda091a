"""One wrapper around awsiotsdk's MQTT5 client, for the device client (iot/device.py) and for
the local stack's backend connection (infra/local/mqtt.py).

mTLS from certificate files, `enable_metrics_collection=False` (else the SDK appends
`?SDK=...` to the username), a first connect that succeeds or raises, reconnects left to the
SDK with subscriptions renewed when the session did not survive, per-filter callbacks, and
publishes whose PUBACK reason codes are checked.

AWS IoT Core's flow control (about 100 publishes/s per connection) stays on unless
`flow_control=False` (local load tests and the backend's own connection to mosquitto).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from chalicelib.topics import topic_matches

log = logging.getLogger(__name__)

NOT_AUTHORIZED = 135
SESSION_TAKEN_OVER = 142  # MQTT5 DISCONNECT: another connection came with this client id
FLAP_S = 35.0
"""A connection closed by the broker sooner than this after it was accepted is a flap (the
SDK's reconnect delay resets after 30 s connected, so two fighting clients stay under it)."""

Callback = Callable[[str, bytes], None]


class MqttError(RuntimeError):
    """The broker refused or failed an MQTT operation."""


class NotAuthorizedError(MqttError):
    """The broker answered NOT_AUTHORIZED (135): the topic is not this client's."""


def puback_code(result: Any, topic: str) -> int:
    """The reason code of a publish future's result (0 for QoS 0); NotAuthorizedError on 135."""
    puback = getattr(result, "puback", None)
    code = getattr(puback, "reason_code", None)
    code = 0 if code is None else int(code)
    if code == NOT_AUTHORIZED:
        raise NotAuthorizedError(f"not authorized to publish on {topic}")
    return code


class MqttClient:
    """One MQTT5 connection with per-filter callbacks.

    Callbacks run on the SDK's event-loop thread: keep them short, and do not wait there for
    a PUBACK (`in_callback()` tells; the thread that would deliver it is the one waiting).

    `subscription_ids=True` gives every filter its own MQTT5 subscription identifier, so that
    a message matching several filters (mosquitto sends one copy per matching subscription)
    reaches each filter's callbacks once; without identifiers the callbacks of every matching
    filter run, each once per copy received.
    """

    def __init__(
        self,
        host: str,
        port: int,
        ca_file: str,
        cert_file: str,
        key_file: str,
        client_id: str,
        *,
        flow_control: bool = True,
        will: mqtt5.PublishPacket | None = None,
        keep_alive_sec: int = 60,
        min_reconnect_delay_ms: int = 500,
        max_reconnect_delay_ms: int = 30_000,
        subscription_ids: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.ca_file = str(ca_file)
        self.cert_file = str(cert_file)
        self.key_file = str(key_file)
        self.client_id = client_id
        self.flow_control = flow_control
        self.will = will
        self.keep_alive_sec = keep_alive_sec
        self.min_reconnect_delay_ms = min_reconnect_delay_ms
        self.max_reconnect_delay_ms = max_reconnect_delay_ms
        self.subscription_ids = subscription_ids
        self._lock = threading.Lock()
        self._subs: list[tuple[str, Callback, int]] = []
        self._sub_ids: dict[str, int] = {}
        self._loop_threads: set[int] = set()
        self._client: mqtt5.Client | None = None
        self._first: Future[None] | None = None
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self.sessions_taken_over = 0
        self._up_since = 0.0
        self._flaps = 0

    # lifecycle -----------------------------------------------------------------------------

    def _build(self) -> mqtt5.Client:
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
            client_id=self.client_id,
            enable_metrics_collection=False,
            extended_validation_and_flow_control_options=flow,
            keep_alive_interval_sec=self.keep_alive_sec,
            will=self.will,
            min_reconnect_delay_ms=self.min_reconnect_delay_ms,
            max_reconnect_delay_ms=self.max_reconnect_delay_ms,
            on_publish_received=self._on_publish,
            on_lifecycle_connection_success=self._on_success,
            on_lifecycle_connection_failure=self._on_failure,
            on_lifecycle_disconnection=self._on_disconnect,
            on_lifecycle_stopped=lambda _data: self._stopped.set(),
        )

    def start(self, timeout: float = 10) -> None:
        """Connect; raise MqttError when the first attempt fails or times out.

        After a successful start the SDK reconnects on its own and subscriptions are renewed.
        """
        if self._client is not None:
            return
        first: Future[None] = Future()
        self._first = first
        self._stopped.clear()
        try:
            self._client = self._build()
        except (OSError, RuntimeError) as e:  # a missing file; awscrt: not a certificate or key
            self._first = None
            raise MqttError(
                f"{self.client_id}: cannot use its credentials (certificate {self.cert_file}, "
                f"key {self.key_file}, CA {self.ca_file}): {e}"
            ) from None
        self._client.start()
        where = f"{self.client_id}: connect to {self.host}:{self.port}"
        try:
            first.result(timeout)
        except FutureTimeout:
            self.stop()
            raise MqttError(f"{where} timed out after {timeout}s") from None
        except Exception as exc:
            self.stop()
            raise MqttError(f"{where} failed: {exc}") from exc

    def stop(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        if client is None:
            return
        try:
            client.stop()
        except Exception:  # pragma: no cover - stop on a dead client
            log.debug("%s: stop failed", self.client_id, exc_info=True)
        self._stopped.wait(5)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def in_callback(self) -> bool:
        """True on the SDK's event-loop thread (in a callback of this client)."""
        return threading.get_ident() in self._loop_threads

    def _on_success(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        self._loop_threads.add(threading.get_ident())
        self._up_since = time.monotonic()
        self._connected.set()
        first = self._first
        if first is not None and not first.done():
            first.set_result(None)
            return
        settings = data.negotiated_settings
        if settings is not None and settings.rejoined_session:
            return
        # a reconnect with a clean session: subscribe again
        with self._lock:
            filters = list(dict.fromkeys((f, q) for f, _, q in self._subs))
        log.info("%s: reconnected; resubscribing %d filters", self.client_id, len(filters))
        for topic_filter, qos in filters:
            self._send_subscribe(topic_filter, qos)

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        first = self._first
        if first is not None and not first.done():
            code = data.connack_packet.reason_code if data.connack_packet else None
            first.set_exception(MqttError(f"{data.exception} (connack reason {code})"))
        else:
            log.warning("%s: reconnect failed: %s", self.client_id, data.exception)

    def _on_disconnect(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self._connected.clear()
        if self._client is None:
            return
        packet = data.disconnect_packet
        if packet is not None and int(packet.reason_code) == SESSION_TAKEN_OVER:
            self._taken_over("the broker says so (DISCONNECT 0x8E)")
            return
        # mosquitto 2.0 hangs up on the old connection without a DISCONNECT: two
        # connections with one client id show as connections closed soon after they were
        # accepted, again and again (each reconnect kicks the other off).
        lived = time.monotonic() - self._up_since
        self._flaps = self._flaps + 1 if packet is None and lived < FLAP_S else 0
        if self._flaps >= 2 and self._flaps % 10 == 2:
            self._taken_over(f"closed {self._flaps} times in a row soon after connecting")
            return
        log.warning("%s: disconnected: %s", self.client_id, data.exception)

    def _taken_over(self, how: str) -> None:
        self.sessions_taken_over += 1
        log.warning(
            "%s: session taken over (%s): another connection to %s:%d uses the client id %s, "
            "a second process or machine with this device's identity? Each kicks the other "
            "off when it reconnects: stop one of them.",
            self.client_id,
            how,
            self.host,
            self.port,
            self.client_id,
        )

    # operations ----------------------------------------------------------------------------

    def _require(self) -> mqtt5.Client:
        if self._client is None:
            raise MqttError(f"{self.client_id}: not connected")
        return self._client

    def publish_async(self, topic: str, payload: bytes | str, qos: int = 1) -> Future[Any]:
        """Queue a publish; the future's result has `.puback.reason_code` on QoS 1."""
        if isinstance(payload, str):
            payload = payload.encode()
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
        return self._require().publish(packet)

    def wait_puback(self, future: Future[Any], topic: str, timeout: float = 10) -> int:
        """Wait for a publish's PUBACK and return its reason code (0 for QoS 0).

        MqttError when none came in time or the publish failed; NotAuthorizedError on 135.
        """
        try:
            result = future.result(timeout)
        except FutureTimeout:
            raise MqttError(f"{self.client_id}: no PUBACK on {topic} in {timeout}s") from None
        except Exception as exc:
            raise MqttError(f"{self.client_id}: publish to {topic} failed: {exc}") from exc
        return puback_code(result, topic)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, timeout: float = 10) -> int:
        """Publish and return the PUBACK reason code (see `wait_puback`)."""
        return self.wait_puback(self.publish_async(topic, payload, qos), topic, timeout)

    def _send_subscribe(self, topic_filter: str, qos: int) -> Future[Any]:
        sub_id = None
        if self.subscription_ids:
            with self._lock:
                sub_id = self._sub_ids.setdefault(topic_filter, len(self._sub_ids) + 1)
        packet = mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=topic_filter, qos=mqtt5.QoS(qos))],
            subscription_identifier=sub_id,
        )
        return self._require().subscribe(packet)

    def subscribe(
        self, topic_filter: str, callback: Callback, qos: int = 1, timeout: float = 10
    ) -> None:
        """Subscribe and wait for the SUBACK; callback(topic, payload) runs on the SDK's thread.

        The callback is registered before the SUBSCRIBE goes out, so nothing delivered right
        after the SUBACK is missed. NotAuthorizedError on 135, MqttError on any other refusal.
        """
        if not topic_filter:
            raise ValueError("empty topic filter")
        with self._lock:
            self._subs.append((topic_filter, callback, qos))
        try:
            suback = self._send_subscribe(topic_filter, qos).result(timeout)
        except FutureTimeout:
            self._drop(topic_filter, callback)
            raise MqttError(
                f"{self.client_id}: no SUBACK for {topic_filter} in {timeout}s"
            ) from None
        except Exception as exc:
            self._drop(topic_filter, callback)
            raise MqttError(f"{self.client_id}: subscribe to {topic_filter} failed: {exc}") from exc
        code = int(suback.reason_codes[0]) if suback.reason_codes else -1
        if code == NOT_AUTHORIZED:
            self._drop(topic_filter, callback)
            raise NotAuthorizedError(f"{self.client_id}: may not subscribe to {topic_filter}")
        if code < 0 or code >= 0x80:
            self._drop(topic_filter, callback)
            raise MqttError(f"{self.client_id}: subscribe to {topic_filter} refused ({code})")

    def _drop(self, topic_filter: str, callback: Callback) -> None:
        with self._lock:
            self._subs = [s for s in self._subs if not (s[0] == topic_filter and s[1] is callback)]

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        self._loop_threads.add(threading.get_ident())
        packet = data.publish_packet
        topic = packet.topic
        payload = packet.payload if isinstance(packet.payload, bytes) else bytes(packet.payload)
        ids = set(packet.subscription_identifiers or ())
        with self._lock:
            if ids:
                filters = {f for f, i in self._sub_ids.items() if i in ids}
                targets = [cb for f, cb, _ in self._subs if f in filters]
            else:  # no identifiers (not asked for, or a broker without them): match filters
                targets = [cb for f, cb, _ in self._subs if topic_matches(f, topic)]
        for callback in dict.fromkeys(targets):
            try:
                callback(topic, payload)
            except Exception:
                log.exception("%s: callback for %s failed", self.client_id, topic)
