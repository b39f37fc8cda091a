"""DynamoDB adapter for the city's running totals, each ledger entry counted once."""

from __future__ import annotations

import random
import time
from datetime import timedelta

from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb_models import CityTotal, ProcessedEvent
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain import totals
from chalicelib.domain.clock import Clock
from chalicelib.domain.totals import Totals, TotalsChange
from chalicelib.errors import RetryableConflict

# Stream records live 24 hours: a guard kept a week outlives any redelivery.
GUARD_RETENTION = timedelta(days=7)
DAY_RETENTION = timedelta(days=400)
CONFLICT_ATTEMPTS = 6


class DynamoDbCityTotals:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def add_once(self, guard_key: str, periods: tuple[str, ...], change: TotalsChange) -> bool:
        """Every ledger entry updates the same rows, so concurrent shards conflict: retry here
        (the guard makes a retry safe) rather than spend the stream's few retries on it."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                return self._add_once(guard_key, periods, change)
            except RetryableConflict:
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    def _add_once(self, guard_key: str, periods: tuple[str, ...], change: TotalsChange) -> bool:
        now = self._clock()
        tx = NamedTransaction()
        tx.put(
            "guard",
            ProcessedEvent(
                guard_key, status="counted", processed_at=now, expires=now + GUARD_RETENTION
            ),
            ProcessedEvent.event_key.does_not_exist(),
        )
        for period in periods:
            actions: list[Action] = [
                CityTotal.points_issued.add(change.points_issued),
                CityTotal.points_paid.add(change.points_paid),
                CityTotal.items_recycled.add(change.items_recycled),
                CityTotal.entries.add(1),
            ]
            if period != totals.ALL_TIME:
                actions.append(CityTotal.expires.set(now + DAY_RETENTION))
            tx.update(period, CityTotal(period), actions, versioned=False)
        try:
            tx.commit()
        except ConditionsFailed as e:
            if "guard" in e.names:
                return False
            raise RetryableConflict(f"totals {guard_key}: {sorted(e.names)}") from e
        return True

    def read(self, periods: tuple[str, ...]) -> dict[str, Totals]:
        return {
            row.period: Totals(
                row.period,
                int(row.points_issued),
                int(row.points_paid),
                int(row.items_recycled),
                int(row.entries),
            )
            for row in CityTotal.batch_get(list(periods))
        }
