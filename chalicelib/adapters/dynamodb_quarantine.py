"""DynamoDB adapter for the quarantine store: messages that could not be processed. The
store's door (`stored_text`) is the one place refused messages are redacted: callers hand
over what the device sent, and no phone number reaches the table or the admins who read it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from chalicelib.adapters.dynamodb_cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb_models import QuarantinedMessage
from chalicelib.domain import operations
from chalicelib.domain.clock import Clock
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.phones import redact_phones

RETENTION = timedelta(days=90)
MAX_STORED_PAYLOAD = 16 * 1024
MAX_STORED_DETAILS = 2000

# A JSON member named "phone" and its string or number value, wherever it appears.
_PHONE_MEMBER: Final = re.compile(r'("phone"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*)')


class DynamoDbQuarantine:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

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
        """Store a refused message. Every text field passes through the one redaction here,
        at the only door into the store: a refused message is exactly where a number
        written oddly ends up."""
        now = self._clock()
        QuarantinedMessage(
            source,
            sortable_id(now),
            reason=reason,
            device_id=stored_text(device_id),
            event_id=stored_text(event_id),
            details=stored_text(details, MAX_STORED_DETAILS),
            payload=stored_text(payload, MAX_STORED_PAYLOAD),
            received_at=now,
            expires=now + RETENTION,
        ).save()

    @staticmethod
    def newest(source: str, limit: int, cursor: str | None = None) -> operations.QuarantinePage:
        start_key = (
            decode_cursor(cursor, hash_attr="source", hash_value=source, range_attr="quarantine_id")
            if cursor
            else None
        )
        results = QuarantinedMessage.query(
            source, scan_index_forward=False, limit=limit, last_evaluated_key=start_key
        )
        items = [
            operations.QuarantinedMessage(
                source=q.source,
                quarantine_id=q.quarantine_id,
                reason=q.reason,
                device_id=q.device_id,
                event_id=q.event_id,
                details=q.details,
                payload=q.payload,
                received_at=q.received_at,
            )
            for q in results
        ]
        last = results.last_evaluated_key
        return operations.QuarantinePage(
            items, encode_cursor(last) if last and len(items) == limit else None
        )


def stored_text(text: str | None, limit: int | None = None) -> str | None:
    """A field as the store keeps it: a `"phone"` member's value masked whatever it holds,
    every run of digits that reads as a mobile number replaced by <phone>, then cut to
    `limit` (redacted before the cut, so a cut never leaves a partial number unrecognised)."""
    if text is None:
        return None
    redacted = redact_phones(_PHONE_MEMBER.sub(r'\1"<phone>"', text))
    return redacted if limit is None else redacted[:limit]
