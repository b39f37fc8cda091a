"""What the local IoT Core pieces need of the backend's MQTT connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class MqttPort(Protocol):
    """The backend's MQTT connection (``infra.local.mqtt.BackendMqtt``), as the data-plane
    bridge and the rules engine use it."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10) -> None: ...

    def subscribe(
        self, topic_filter: str, callback: Callable[[str, bytes], None], qos: int = 1
    ) -> None: ...
