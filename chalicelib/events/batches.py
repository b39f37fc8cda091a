"""Batch event sources (SQS queues, DynamoDB streams): a loop over a pure record handler
with Powertools' BatchProcessor, reporting only the records that failed, each record's
log lines carrying its id as the correlation id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from chalicelib import wiring


def process_batch(
    event: Any, record_handler: Callable[[Any], Any], source: Literal["sqs", "dynamodb"]
) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    event_type = EventType.SQS if source == "sqs" else EventType.DynamoDBStreams

    def handle(record: Any) -> Any:
        if source == "sqs":
            wiring.logger.set_correlation_id(record.message_id)
        else:
            wiring.logger.set_correlation_id(record.dynamodb.sequence_number)
        return record_handler(record)

    response = process_partial_response(
        event=event.to_dict(),
        record_handler=handle,
        processor=BatchProcessor(event_type=event_type),
        context=event.context,
    )
    return dict(response)
