"""IoT data-plane adapter: answers to robots."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import topics
from chalicelib.adapters import aws_clients
from chalicelib.domain.recycling import DepositAck


class IotAckPublisher:
    def __init__(self, city: str, client: Any = None) -> None:
        self._city = city
        self._client = client

    def publish_ack(self, device_id: str, ack: DepositAck) -> None:
        client = self._client or aws_clients.iot_data()
        client.publish(
            topic=topics.deposit_ack(self._city, device_id),
            qos=topics.DEPOSIT_ACK.qos[0],
            payload=json.dumps(ack.as_message(), separators=(",", ":")).encode("utf-8"),
        )
