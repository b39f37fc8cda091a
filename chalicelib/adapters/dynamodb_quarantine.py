"""DynamoDB adapter for the quarantine store: messages that could not be processed."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters.dynamodb_cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb_models import QuarantinedMessage
from chalicelib.domain import operations
from chalicelib.domain.clock import Clock
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.phones import redact_phones

RETENTION = timedelta(days=90)
MAX_STORED_PAYLOAD = 16 * 1024


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
        """Store a refused message. Every text field passes through the one phone redaction
        here, at the only door into the store, whatever the caller already did: a refused
        message is exactly where a number written oddly ends up."""
        now = self._clock()
        QuarantinedMessage(
            source,
            sortable_id(now),
            reason=reason,
            device_id=_redacted(device_id),
            event_id=_redacted(event_id),
            details=redact_phones(details)[:2000],
            payload=redact_phones(payload)[:MAX_STORED_PAYLOAD] if payload is not None else None,
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


def _redacted(text: str | None) -> str | None:
    """Redacted before any cut, so a cut never leaves a partial number unrecognised."""
    return None if text is None else redact_phones(text)
