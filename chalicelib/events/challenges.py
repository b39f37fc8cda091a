"""The two stream handlers that keep challenge progress: step days from the step table's
stream, recycled items from the ledger's (chalicelib/api/challenges.py serves the routes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.events.stream_records import gather, ledger_entry_of, step_day_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )

    from chalicelib.services.challenges import ItemsCredited


def step_challenges(event: Any) -> dict[str, Any]:
    """Step days move challenge progress: each record read alone (a bad one is reported
    alone), then the batch's days merged per citizen and written once per entry. A failed
    write fails the batch, whose retry the per-day maximum makes harmless."""
    response, days = gather(event, step_day_of)
    if days:
        wiring.count("ChallengeEntriesMoved", wiring.challenges().apply_steps(days))
    return response


def ledger_challenges(event: Any) -> dict[str, Any]:
    """Recycling ledger entries count in recycle_items challenges, once each (a guard per
    entry and challenge in the same transaction as the count)."""
    from chalicelib.services.challenges import items_credited

    def read(record: DynamoDBRecord) -> ItemsCredited | None:
        entry = ledger_entry_of(record)
        return items_credited(entry) if entry is not None else None

    response, credited = gather(event, read)
    if credited:
        wiring.count("ChallengeEntriesMoved", wiring.challenges().apply_items(credited))
    return response
