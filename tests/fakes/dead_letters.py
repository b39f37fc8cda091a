"""Dead-letter queues in memory."""

from __future__ import annotations

from chalicelib.domain.operations import ParkedMessages


class MemoryDeadLetters:
    def __init__(self, parked: list[ParkedMessages] | None = None) -> None:
        self.parked = parked or []

    def depths(self) -> list[ParkedMessages]:
        return list(self.parked)
