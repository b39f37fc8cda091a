"""The backend's own MQTT connection in the local stack (the identity the cloud side uses).

In AWS the cloud side reaches devices through IoT Core (rules, the data plane); locally the
emulation of those parts talks to mosquitto through one mTLS MQTT5 connection, this one. It
is the devices' client (iot/mqtt5.py) with the backend's settings: no IoT Core flow control
(it carries every device's traffic), quick reconnects, one subscription identifier per filter.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import Future
from typing import Any

from iot.mqtt5 import Callback, MqttClient, MqttError

__all__ = ["BackendMqtt", "Callback", "MqttError"]

log = logging.getLogger(__name__)


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
        # mosquitto sends one copy of a message per matching subscription, so every filter
        # gets its own MQTT5 subscription identifier and a copy goes to that filter's callbacks
        self._mqtt = MqttClient(
            host,
            port,
            self.ca_file,
            self.cert_file,
            self.key_file,
            client_id=client_id,
            flow_control=False,
            keep_alive_sec=30,
            min_reconnect_delay_ms=200,
            max_reconnect_delay_ms=5000,
            subscription_ids=True,
        )

    def start(self, timeout: float = 10) -> None:
        self._mqtt.start(timeout)

    def stop(self) -> None:
        self._mqtt.stop()

    @property
    def connected(self) -> bool:
        return self._mqtt.connected

    def subscribe(self, topic_filter: str, callback: Callback, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK; raise MqttError when the broker refuses."""
        self._mqtt.subscribe(topic_filter, callback, qos)

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10) -> None:
        """Publish; on QoS 1 wait for the PUBACK and raise MqttError on a failure code."""
        future = self._mqtt.publish_async(topic, payload, qos)
        if self._mqtt.in_callback():
            # called from a callback: waiting here would block the thread that reads the PUBACK
            future.add_done_callback(functools.partial(self._log_outcome, topic=topic))
            return
        self._check(self._mqtt.wait_puback(future, topic, timeout), topic)

    @staticmethod
    def _check(code: int, topic: str) -> None:
        if code >= 0x80:
            raise MqttError(f"publish to {topic!r} refused: {code}")

    def _log_outcome(self, future: Future[Any], topic: str) -> None:
        try:
            self._check(self._mqtt.wait_puback(future, topic, 0), topic)
        except Exception:
            log.exception("mqtt publish from a callback failed")
