"""DynamoDB adapter for step days: the conditional sync, the week's read, and the step
stream's images read into domain values."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamodb_models import Citizen, StepDay
from chalicelib.adapters.dynamodb_reads import batch_get
from chalicelib.adapters.dynamodb_transactions import condition_failed
from chalicelib.domain import steps
from chalicelib.domain.clock import SEOUL
from chalicelib.domain.steps import Walker

# Week boards and challenges read a day back for a year at most.
RETENTION = timedelta(days=400)


class DynamoDbSteps:
    def current(self, citizen_id: str, days: list[date]) -> tuple[Walker | None, dict[date, int]]:
        """The citizen and the stored days in ONE BatchGetItem (strongly consistent: a resend
        right after a sync must see it)."""
        items = batch_get(
            [(Citizen, citizen_id, None)] + [(StepDay, citizen_id, d.isoformat()) for d in days]
        )
        walker: Walker | None = None
        stored: dict[date, int] = {}
        for item in items:
            if isinstance(item, Citizen):
                walker = Walker(
                    item.district,
                    item.display_name,
                    int(item.name_version or 0),
                    closed=item.closed_at is not None,
                )
            elif isinstance(item, StepDay):
                stored[date.fromisoformat(item.day)] = int(item.steps)
        return walker, stored

    def raise_to(
        self, citizen_id: str, day: date, steps: int, walker: Walker, now: datetime
    ) -> int:
        """One conditional UpdateItem: the count only goes up. The district is the one of the
        day's first sync, so a day counts on one district's boards for good. If a higher count
        won the race, that one is the stored count."""
        item = StepDay(citizen_id, day.isoformat())
        try:
            item.update(
                actions=[
                    StepDay.steps.set(steps),
                    StepDay.district.set(StepDay.district | walker.district),
                    StepDay.display_name.set(walker.display_name),
                    StepDay.name_version.set(walker.name_version or 0),
                    StepDay.updated_at.set(now),
                    StepDay.expires.set(_expiry(day)),
                ],
                condition=StepDay.steps.does_not_exist() | (StepDay.steps < steps),
            )
        except UpdateError as e:
            if not condition_failed(e):
                raise
            return int(StepDay.get(citizen_id, day.isoformat(), consistent_read=True).steps)
        return steps

    def between(self, citizen_id: str, first: date, last: date) -> dict[date, int]:
        """The stored days from `first` to `last`, in one Query (at most a week's items)."""
        return {
            date.fromisoformat(item.day): int(item.steps)
            for item in StepDay.query(
                citizen_id,
                StepDay.day.between(first.isoformat(), last.isoformat()),
                attributes_to_get=["day", "steps"],
            )
        }


def _expiry(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), SEOUL) + RETENTION


def step_day_of(item: StepDay) -> steps.StepDay:
    return steps.StepDay(
        citizen_id=item.citizen_id,
        day=date.fromisoformat(item.day),
        steps=int(item.steps),
        district=item.district,
        display_name=item.display_name,
        name_version=None if item.name_version is None else int(item.name_version),
    )


def step_day_from_image(image: dict[str, Any]) -> steps.StepDay:
    """A step day from a stream record's NewImage (DynamoDB's attribute-value format)."""
    return step_day_of(StepDay.from_raw_data(image))
