"""DynamoDB adapter for step days: the conditional sync, and reading the step stream's images."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.adapters.dynamodb_models import StepDay
from chalicelib.domain import steps


def step_day_of(item: StepDay) -> steps.StepDay:
    return steps.StepDay(
        citizen_id=item.citizen_id,
        day=date.fromisoformat(item.day),
        steps=int(item.steps),
        district=item.district,
        display_name=item.display_name,
    )


def step_day_from_image(image: dict[str, Any]) -> steps.StepDay:
    """A step day from a stream record's NewImage (DynamoDB's attribute-value format)."""
    return step_day_of(StepDay.from_raw_data(image))
