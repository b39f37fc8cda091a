"""DynamoDB stream handlers: each a pure record handler under process_batch, so a failing
record is reported alone (the event source retries from it, bisects, then parks it on its
on-failure queue; chalicelib.streams) and never blocks its shard.

A record's image is read into a domain value here, at the edge; services never see
DynamoDB's attribute-value format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.api.batches import process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )


def ledger_record_handler(record: DynamoDBRecord) -> None:
    """A new ledger entry counts in the city's totals, once."""
    if record.event_name is None or record.event_name.name != "INSERT":
        return  # entries are written once and never changed; a TTL removal counts nothing
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
    entry = wiring.ledger_entry_from_image(image)
    counted = wiring.operations().count_ledger_entry(entry)
    wiring.count("LedgerEntriesCounted" if counted else "LedgerEntriesRecounted")


def process(event: Any, record_handler: Any) -> dict[str, Any]:
    return process_batch(event, record_handler, "dynamodb")
