"""The backend's own MQTT connection in the local stack (the identity the cloud side uses).

In AWS the cloud side reaches devices through IoT Core (rules, the data plane); locally the
emulation of those parts talks to mosquitto through one mTLS MQTT5 connection, this one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from chalicelib.topics import topic_matches

log = logging.getLogger(__name__)

Callback = Callable[[str, bytes], None]


class MqttError(RuntimeError):
    """The broker refused or failed an MQTT operation."""


class BackendMqtt:
    """One MQTT5 client with per-filter callbacks.

    Callbacks run on the client's event-loop thread: keep them short. `publish` called from a
    callback does not wait for its PUBACK (that would deadlock the loop); failures are logged.
    """

    def __init__(
        self,
        host: str,
        port: int,
        ca_file: str,
        cert_file: str,
        key_file: str,
        client_id: str = "gimhae-backend",
    ) -> None:
        self.host = host
        self.port = port
        self.ca_file = str(ca_file)
        self.cert_file = str(cert_file)
        self.key_file = str(key_file)
        self.client_id = client_id
        self._lock = threading.Lock()
        self._subs: list[tuple[str, Callback, int]] = []
        # mosquitto sends one copy of a message per matching subscription, so every filter
        # gets its own MQTT5 subscription identifier and a copy goes to that filter's callbacks
        self._sub_ids: dict[str, int] = {}
        self._loop_threads: set[int] = set()
        self._client: mqtt5.Client | None = None
        self._connected = threading.Event()
        self._first: Future[None] | None = None
        self._stopped = threading.Event()

    # lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 10) -> None:
        if self._client is not None:
            return
        first: Future[None] = Future()
        self._first = first
        self._stopped.clear()
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=self.host,
            port=self.port,
            cert_filepath=self.cert_file,
            pri_key_filepath=self.key_file,
            ca_filepath=self.ca_file,
            client_id=self.client_id,
            keep_alive_interval_sec=30,
            enable_metrics_collection=False,
            extended_validation_and_flow_control_options=(
                mqtt5.ExtendedValidationAndFlowControlOptions.NONE
            ),
            min_reconnect_delay_ms=200,
            max_reconnect_delay_ms=5000,
            on_publish_received=self._on_publish,
            on_lifecycle_connection_success=self._on_success,
            on_lifecycle_connection_failure=self._on_failure,
            on_lifecycle_disconnection=self._on_disconnect,
            on_lifecycle_stopped=lambda _data: self._stopped.set(),
        )
        self._client.start()
        try:
            first.result(timeout)
        except FutureTimeout:
            self.stop()
            raise MqttError(
                f"MQTT connect to {self.host}:{self.port} timed out after {timeout}s"
            ) from None
        except Exception as exc:
            self.stop()
            raise MqttError(f"MQTT connect to {self.host}:{self.port} failed: {exc}") from exc

    def stop(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        if client is None:
            return
        try:
            client.stop()
        except Exception:  # pragma: no cover - stop on a dead client
            log.debug("mqtt stop failed", exc_info=True)
        self._stopped.wait(5)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _on_success(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        self._loop_threads.add(threading.get_ident())
        self._connected.set()
        first = self._first
        if first is not None and not first.done():
            first.set_result(None)
            return
        # a reconnect: the session is clean, so subscribe again
        rejoined = bool(data.negotiated_settings and data.negotiated_settings.rejoined_session)
        if not rejoined:
            with self._lock:
                filters = {(f, q) for f, _, q in self._subs}
            log.info("mqtt %s reconnected; resubscribing %d filters", self.client_id, len(filters))
            for topic_filter, qos in filters:
                self._send_subscribe(topic_filter, qos)

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        first = self._first
        if first is not None and not first.done():
            code = data.connack_packet.reason_code if data.connack_packet else None
            first.set_exception(MqttError(f"{data.exception} (connack reason {code})"))
        else:
            log.warning("mqtt %s reconnect failed: %s", self.client_id, data.exception)

    def _on_disconnect(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self._connected.clear()
        if self._client is not None:
            log.warning("mqtt %s disconnected: %s", self.client_id, data.exception)

    # operations ----------------------------------------------------------------------------

    def _require(self) -> mqtt5.Client:
        if self._client is None:
            raise MqttError("BackendMqtt is not started")
        return self._client

    def _send_subscribe(self, topic_filter: str, qos: int) -> Future[Any]:
        with self._lock:
            sub_id = self._sub_ids.setdefault(topic_filter, len(self._sub_ids) + 1)
        packet = mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=topic_filter, qos=mqtt5.QoS(qos))],
            subscription_identifier=sub_id,
        )
        return self._require().subscribe(packet)

    def subscribe(self, topic_filter: str, callback: Callback, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK; raise MqttError when the broker refuses."""
        if not topic_filter:
            raise ValueError("empty topic filter")
        with self._lock:
            self._subs.append((topic_filter, callback, qos))
        try:
            suback = self._send_subscribe(topic_filter, qos).result(10)
        except Exception as exc:
            self._drop(topic_filter, callback)
            raise MqttError(f"subscribe {topic_filter!r} failed: {exc}") from exc
        code = suback.reason_codes[0] if suback.reason_codes else None
        if code is None or int(code) >= 0x80:
            self._drop(topic_filter, callback)
            raise MqttError(f"subscribe {topic_filter!r} refused: {code!r}")

    def _drop(self, topic_filter: str, callback: Callback) -> None:
        with self._lock:
            self._subs = [s for s in self._subs if not (s[0] == topic_filter and s[1] is callback)]

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10) -> None:
        """Publish; on QoS 1 wait for the PUBACK and raise MqttError on a failure code."""
        if isinstance(payload, str):
            payload = payload.encode()
        future = self._require().publish(
            mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
        )
        if threading.get_ident() in self._loop_threads:
            # called from a callback: waiting here would block the thread that reads the PUBACK
            future.add_done_callback(lambda f, t=topic: self._log_outcome(f, t))
            return
        try:
            result = future.result(timeout)
        except FutureTimeout:
            raise MqttError(f"publish to {topic!r}: no PUBACK within {timeout}s") from None
        except Exception as exc:
            raise MqttError(f"publish to {topic!r} failed: {exc}") from exc
        self._check_puback(result, topic)

    @staticmethod
    def _check_puback(result: Any, topic: str) -> None:
        puback = getattr(result, "puback", None)
        code = getattr(puback, "reason_code", None)
        if code is not None and int(code) >= 0x80:
            raise MqttError(f"publish to {topic!r} refused: {code!r}")

    def _log_outcome(self, future: Future[Any], topic: str) -> None:
        try:
            self._check_puback(future.result(), topic)
        except Exception:
            log.exception("mqtt publish from a callback failed")

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
            else:  # a broker without subscription identifiers: match the filters ourselves
                targets = [cb for f, cb, _ in self._subs if topic_matches(f, topic)]
        seen: set[int] = set()
        for callback in targets:
            if id(callback) in seen:
                continue
            seen.add(id(callback))
            try:
                callback(topic, payload)
            except Exception:
                log.exception("mqtt callback for %r failed", topic)
