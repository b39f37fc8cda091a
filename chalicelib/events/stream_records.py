"""The readers of DynamoDB stream records, shared by the stream handlers of chalicelib.events:
each record is read alone under process_batch, so a failing record is reported alone (the
event source retries from it, bisects, then parks it on its on-failure queue;
chalicelib.streams) and never blocks its shard; what the records change is then written
together (many records, few writes).

A record's image is read into a domain value here, at the edge; services never see
DynamoDB's attribute-value format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib import wiring
from chalicelib.events.batches import process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )

    from chalicelib.domain.ledger import LedgerEntry
    from chalicelib.domain.steps import StepDay


T = TypeVar("T")


def gather(
    event: Any, read: Callable[[DynamoDBRecord], T | None]
) -> tuple[dict[str, Any], list[T]]:
    """Read each record alone under the batch processor (a record that cannot be read is
    reported alone, and the stream retries from it); the batch's answer and what was read,
    to be written together (many records, few writes)."""
    found: list[T] = []

    def collect(record: DynamoDBRecord) -> None:
        value = read(record)
        if value is not None:
            found.append(value)

    return process_batch(event, collect, "dynamodb"), found


def ledger_entry_of(record: DynamoDBRecord) -> LedgerEntry | None:
    """A new ledger entry, or None: entries are written once and never changed, and a TTL
    removal counts nothing."""
    if record.event_name is None or record.event_name.name != "INSERT":
        return None
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
    return wiring.ledger_entry_from_image(image)


def step_day_of(record: DynamoDBRecord) -> StepDay | None:
    """A step day as stored now (first sync or a raise), or None: a TTL removal changes
    neither a board nor a challenge."""
    if record.event_name is None or record.event_name.name == "REMOVE":
        return None
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
    return wiring.step_day_from_image(image)
