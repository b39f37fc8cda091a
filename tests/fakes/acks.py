"""Robot acks, recorded instead of published."""

from __future__ import annotations

from chalicelib.domain.recycling import DepositAck


class RecordingAcks:
    def __init__(self) -> None:
        self.sent: list[tuple[str, DepositAck]] = []

    def publish_ack(self, device_id: str, ack: DepositAck) -> None:
        self.sent.append((device_id, ack))
