"""DynamoDB adapter for the city's running totals, each ledger entry counted once.

A batch of entries is one TransactWriteItems per chunk: a guard per entry and ONE update
per totals row with the chunk's sum, so the row every entry counts in (`all`) is written
once per chunk, not once per entry.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb_models import CityTotal, ProcessedEvent
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain import totals
from chalicelib.domain.clock import Clock
from chalicelib.domain.totals import Counted, Totals
from chalicelib.errors import RetryableConflict

# Stream records live 24 hours: a guard kept a week outlives any redelivery.
GUARD_RETENTION = timedelta(days=7)
DAY_RETENTION = timedelta(days=400)
CONFLICT_ATTEMPTS = 6
# TransactWriteItems takes 100 items: guards, plus one update per row (all, and each day).
CHUNK = 90


class DynamoDbCityTotals:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def add_once(self, entries: list[Counted]) -> int:
        counted = 0
        for start in range(0, len(entries), CHUNK):
            counted += self._chunk(entries[start : start + CHUNK])
        return counted

    def _chunk(self, entries: list[Counted]) -> int:
        """Entries already counted fail their guard: drop them and write the rest. The rows
        are shared by every shard, so a conflicting transaction is retried here (the guards
        make a retry safe) rather than spend the stream's few retries on it."""
        pending = {entry.guard_key: entry for entry in entries}
        conflicts = 0
        while pending:
            try:
                self._write(list(pending.values()))
                return len(pending)
            except ConditionsFailed as e:
                done = {name for name in e.names if name in pending}
                if not done:
                    raise RetryableConflict(f"totals: {sorted(e.names)}") from e
                for key in done:
                    del pending[key]
            except RetryableConflict:
                conflicts += 1
                if conflicts >= CONFLICT_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**conflicts))
        return 0

    def _write(self, entries: list[Counted]) -> None:
        now = self._clock()
        tx = NamedTransaction()
        for entry in entries:
            tx.put(
                entry.guard_key,
                ProcessedEvent(
                    entry.guard_key,
                    status="counted",
                    processed_at=now,
                    expires=now + GUARD_RETENTION,
                ),
                ProcessedEvent.event_key.does_not_exist(),
            )
        for period, change in totals.summed(entries).items():
            actions: list[Action] = [
                CityTotal.points_issued.add(change.points_issued),
                CityTotal.points_paid.add(change.points_paid),
                CityTotal.items_recycled.add(change.items_recycled),
                CityTotal.entries.add(change.entries),
            ]
            if period != totals.ALL_TIME:
                actions.append(CityTotal.expires.set(now + DAY_RETENTION))
            tx.update(f"row:{period}", CityTotal(period), actions, versioned=False)
        tx.commit()

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
