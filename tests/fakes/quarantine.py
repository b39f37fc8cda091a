"""The quarantine store in memory: it keeps each field as the DynamoDB store does (the
same redaction and cuts, chalicelib.adapters.dynamodb_quarantine.stored_text)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.adapters.dynamodb_quarantine import (
    MAX_STORED_DETAILS,
    MAX_STORED_PAYLOAD,
    stored_text,
)
from chalicelib.domain.operations import QuarantinedMessage, QuarantinePage


class MemoryQuarantine:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.messages: list[QuarantinedMessage] = []

    def quarantine(
        self,
        *,
        source: str,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
    ) -> None:
        self.messages.append(
            QuarantinedMessage(
                source,
                f"{len(self.messages):08d}",
                reason,
                stored_text(device_id),
                stored_text(event_id),
                stored_text(details, MAX_STORED_DETAILS),
                stored_text(payload, MAX_STORED_PAYLOAD),
                self._clock(),
            )
        )

    def newest(self, source: str, limit: int, cursor: str | None = None) -> QuarantinePage:
        """Cursors are the position in the source's newest-first list."""
        found = [m for m in reversed(self.messages) if m.source == source]
        start = int(cursor) if cursor else 0
        page = found[start : start + limit]
        more = start + limit < len(found)
        return QuarantinePage(page, str(start + limit) if more else None)
