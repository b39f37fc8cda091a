"""The step table's stream handler that keeps the leaderboards (chalicelib/api/leaderboards.py
serves them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.events.stream_records import gather, step_day_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )

    from chalicelib.domain.steps import StepDay


def apply_step_days(event: Any) -> dict[str, Any]:
    """Each record is read alone (one that cannot be read is reported alone); the batch's
    step days are then applied together, a few transactions for the whole batch. If that
    fails, the whole batch is retried, which the MAX merge makes harmless."""

    def read(record: DynamoDBRecord) -> StepDay | None:
        day = step_day_of(record)
        if day is not None and day.steps < 0:
            raise ValueError("a step day with negative steps")
        return day

    response, days = gather(event, read)
    if days:
        changed = wiring.boards().apply(days)
        wiring.count("BoardEntriesChanged", changed)
    return response
