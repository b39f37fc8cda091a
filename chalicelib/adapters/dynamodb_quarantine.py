"""DynamoDB adapter for the quarantine store: messages that could not be processed."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters.dynamodb_models import QuarantinedMessage
from chalicelib.domain import operations
from chalicelib.domain.clock import Clock
from chalicelib.domain.ids import sortable_id

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
        now = self._clock()
        QuarantinedMessage(
            source,
            sortable_id(now),
            reason=reason,
            device_id=device_id,
            event_id=event_id,
            details=details[:2000],
            payload=payload[:MAX_STORED_PAYLOAD] if payload is not None else None,
            received_at=now,
            expires=now + RETENTION,
        ).save()

    @staticmethod
    def newest(source: str, limit: int) -> list[operations.QuarantinedMessage]:
        return [
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
            for q in QuarantinedMessage.query(source, scan_index_forward=False, limit=limit)
        ]
