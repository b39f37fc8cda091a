"""The ledger audit's entry points that are not HTTP: the queue of its chunks (one page of
one scan segment per message) and the daily schedule that starts an audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.events.batches import process_batch
from chalicelib.events.schedules import SCHEDULE

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def audit_chunk_record_handler(record: SQSRecord) -> None:
    from chalicelib.adapters.sqs_chunks import chunk_from_message

    ref = chunk_from_message("audit", record.body)
    wiring.ledger_audit().audit_chunk(ref)
    wiring.count("AuditChunks")


def process_audit_chunks(event: Any) -> dict[str, Any]:
    return process_batch(event, audit_chunk_record_handler, "sqs")


def scheduled_audit(event: Any) -> dict[str, Any]:
    audit = wiring.ledger_audit().start_audit(SCHEDULE)
    return {"audit_id": audit.audit_id, "status": audit.status}
