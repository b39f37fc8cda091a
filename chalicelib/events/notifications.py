"""The inbox's stream handlers (DESIGN §4c): each cause's notification written once, from the
stream that already carries the cause, and each notification pushed once it is in the inbox.

- ledger (read by handle_ledger_changes, chalicelib.events.city_totals: the ledger's stream
  already has its two readers): prizes and corrections posted;
- payout-items: an item settled paid, or failed (and credited back in that transaction);
- payout-skips: a citizen a run skipped, and why;
- challenge-entries: an entry finished;
- notifications: every notification added is pushed to its citizen's phones.

Every record is read alone (a record that cannot be read is reported alone); the batch's
notifications are then written, each in its own transaction with its counter. A write that
fails fails the batch, whose retry the notifications' conditions make harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.events.stream_records import gather

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )

    from chalicelib.domain.ledger import LedgerEntry
    from chalicelib.domain.notifications import Cause


def _inserted(record: DynamoDBRecord) -> bool:
    return record.event_name is not None and record.event_name.name == "INSERT"


def _changed(record: DynamoDBRecord) -> bool:
    return record.event_name is not None and record.event_name.name != "REMOVE"


def _body(record: DynamoDBRecord) -> dict[str, Any]:
    return dict(record.raw_event.get("dynamodb") or {})


def deliver(causes: list[Cause]) -> None:
    if causes:
        new = wiring.notifications().deliver(causes)
        wiring.count("NotificationsAdded", new)
        wiring.count("NotificationsReplayed", len(causes) - new)


def ledger_notices(entries: list[LedgerEntry]) -> None:
    """Prizes and corrections among a batch of new ledger entries."""
    from chalicelib.domain.notifications import ledger_cause

    deliver(
        [
            cause
            for e in entries
            if (
                cause := ledger_cause(
                    e.citizen_id,
                    e.entry_id,
                    e.kind,
                    e.points,
                    e.balance_after,
                    e.created_at,
                    dict(e.detail),
                )
            )
            is not None
        ]
    )


def _notify(event: Any, read: Callable[[DynamoDBRecord], Cause | None]) -> dict[str, Any]:
    response, causes = gather(event, read)
    deliver(causes)
    return response


def payout_notices(event: Any) -> dict[str, Any]:
    from chalicelib.adapters.dynamodb_notifications import payout_cause_of

    return _notify(event, lambda r: payout_cause_of(_body(r)) if _changed(r) else None)


def skip_notices(event: Any) -> dict[str, Any]:
    from chalicelib.adapters.dynamodb_notifications import skip_cause_of

    return _notify(event, lambda r: skip_cause_of(_body(r)) if _inserted(r) else None)


def finish_notices(event: Any) -> dict[str, Any]:
    """Finished entries: their challenges' titles read once per batch."""
    from chalicelib.adapters.dynamodb_notifications import challenge_titles, finish_of
    from chalicelib.domain.notifications import finish_cause

    response, finishes = gather(event, lambda r: finish_of(_body(r)) if _changed(r) else None)
    if finishes:
        titles = challenge_titles({f.challenge_id for f in finishes})
        deliver(
            [
                finish_cause(
                    f.citizen_id,
                    f.challenge_id,
                    titles.get(f.challenge_id, f.challenge_id),
                    f.finished_at,
                )
                for f in finishes
            ]
        )
    return response


def pushes(event: Any) -> dict[str, Any]:
    """Each notification added, pushed to its citizen's phones (each record alone: a push
    that fails is retried from its record, and never blocks the inbox, already written)."""
    from chalicelib.adapters.dynamodb_notifications import notice_of

    def push(record: DynamoDBRecord) -> None:
        found = notice_of(_body(record)) if _inserted(record) else None
        if found is None:
            return
        pushed = wiring.notifications().push(*found)
        wiring.count("PushesSent", pushed.sent)
        wiring.count("PushTokensRemoved", pushed.removed)
        wiring.count("PushesOff", pushed.off)

    from chalicelib.events.batches import process_batch

    return process_batch(event, push, "dynamodb")
