"""What operators watch: refused device messages and parked failures (DESIGN §6 inv. 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class QuarantinedMessage:
    source: str
    quarantine_id: str
    reason: str
    device_id: str | None
    event_id: str | None
    details: str | None
    payload: str | None
    received_at: datetime


@dataclass(frozen=True)
class QuarantinePage:
    items: list[QuarantinedMessage]
    next_cursor: str | None


@dataclass(frozen=True)
class ParkedMessages:
    """How many messages a dead-letter or on-failure queue holds for one consumer."""

    consumer: str
    queue: str
    kind: Literal["dead_letter", "stream_failures"]
    messages: int
    in_flight: int
