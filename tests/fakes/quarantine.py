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
from chalicelib.errors import BadRequest


class MemoryQuarantine:
    """Redacts and cuts what it keeps, and pages it, as the DynamoDB adapter does
    (tests/functional/test_quarantine_contracts.py)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.messages: list[QuarantinedMessage] = []
        self.originals: list[str | None] = []
        """What each entry would keep sealed (the DynamoDB store seals it with KMS)."""

    def quarantine(
        self,
        *,
        source: str,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
        original: str | None = None,
    ) -> None:
        self.originals.append(original)
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
        """Cursors are the source and a position in its newest-first list; a full page
        always has one (DynamoDB answers a last key when the limit is reached)."""
        found = [m for m in reversed(self.messages) if m.source == source]
        start = _position(cursor, source) if cursor else 0
        page = found[start : start + limit]
        return QuarantinePage(page, f"{source}:{start + limit}" if len(page) == limit else None)


def _position(cursor: str, source: str) -> int:
    owner, _, position = cursor.rpartition(":")
    if owner != source or not position.isdigit():
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return int(position)
