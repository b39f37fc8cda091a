"""DynamoDB adapter for the city's running totals, each ledger entry counted once; the only
writer of the totals rows (`CityTotal`). Other adapters add to the settled and steps rows
through `count_settled` and `count_steps_synced`, inside their own transactions.

A batch of entries is one TransactWriteItems per chunk: a guard per entry and ONE update
per totals row with the chunk's sum, so the row every entry counts in (`all`) is written
once per chunk, not once per entry. The same transaction adds a recycling entry's items by
material to its totals rows (`m_<material>` counters) and to its citizen's month row
(`citizen-months`, the monthly report's source), with the citizen's district (read once
per batch).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters import aws_clients
from chalicelib.adapters.dynamodb_models import Citizen, CitizenMonth, CityTotal, ProcessedEvent
from chalicelib.adapters.dynamodb_reads import MAX_KEYS, batch_get
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain import totals
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.reports import CitizenMonthItems
from chalicelib.domain.totals import Counted, Totals
from chalicelib.errors import RetryableConflict

# Stream records live 24 hours: a guard kept a week outlives any redelivery.
GUARD_RETENTION = timedelta(days=7)
DAY_RETENTION = timedelta(days=400)
CONFLICT_ATTEMPTS = 6
# TransactWriteItems takes 100 items: guards, plus one update per row (all, each day, each
# citizen's month): chunks are cut to fit (chalicelib.domain.totals.chunks).
CHUNK = 100
MONTH_RETENTION = timedelta(days=800)
MATERIAL_PREFIX = "m_"


def count_settled(tx: NamedTransaction, points: int, now: datetime) -> None:
    """Add transfers confirmed paid to the settled rows (all time and the Seoul day), in the
    settlement's transaction."""
    _add_to_rows(
        tx, "#stats:", "points_settled", dict.fromkeys(totals.settled_rows(seoul_day(now)), points),
        totals.SETTLED + totals.ALL_TIME, now,
    )  # fmt: skip


def count_steps_synced(tx: NamedTransaction, gains: Mapping[str, int], now: datetime) -> None:
    """Add synced steps to the steps rows, in the step board's transaction."""
    _add_to_rows(tx, "stats:", "steps_synced", gains, totals.STEPS + totals.ALL_TIME, now)


def count_walkers(tx: NamedTransaction, rows: Mapping[str, int], now: datetime) -> None:
    """Add a month's new walkers to its walkers row, in the step board's transaction."""
    _add_to_rows(tx, "walkers:", "walkers", rows, "", now)


def _add_to_rows(
    tx: NamedTransaction,
    prefix: str,
    counter: str,
    gains: Mapping[str, int],
    all_time: str,
    now: datetime,
) -> None:
    for row, gain in gains.items():
        actions: list[Action] = [Path(counter).add(gain)]
        if row != all_time:
            actions.append(CityTotal.expires.set(now + DAY_RETENTION))
        tx.update(f"{prefix}{row}", CityTotal(row), actions, versioned=False)


class DynamoDbCityTotals:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def add_once(self, entries: list[Counted]) -> int:
        districts = _districts({e.month_row.citizen_id for e in entries if e.month_row})
        counted = 0
        for chunk in totals.chunks(entries, CHUNK):
            counted += self._chunk(chunk, districts)
        return counted

    def _chunk(self, entries: list[Counted], districts: Mapping[str, str]) -> int:
        """Entries already counted fail their guard: drop them and write the rest. The rows
        are shared by every shard, so a conflicting transaction is retried here (the guards
        make a retry safe) rather than spend the stream's few retries on it."""
        pending = {entry.guard_key: entry for entry in entries}
        conflicts = 0
        while pending:
            try:
                self._write(list(pending.values()), districts)
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

    def _write(self, entries: list[Counted], districts: Mapping[str, str]) -> None:
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
                CityTotal.points_forfeited.add(change.points_forfeited),
                CityTotal.items_recycled.add(change.items_recycled),
                CityTotal.entries.add(change.entries),
            ]
            actions += [
                Path(MATERIAL_PREFIX + material).add(items) for material, items in change.materials
            ]
            if period != totals.ALL_TIME:
                actions.append(CityTotal.expires.set(now + DAY_RETENTION))
            tx.update(f"row:{period}", CityTotal(period), actions, versioned=False)
        for row, materials in totals.month_sums(entries).items():
            month_actions: list[Action] = [
                CitizenMonth.items.add(sum(materials.values())),
                CitizenMonth.expires.set(now + MONTH_RETENTION),
            ]
            if row.citizen_id in districts:
                month_actions.append(CitizenMonth.district.set(districts[row.citizen_id]))
            month_actions += [
                Path(MATERIAL_PREFIX + material).add(items)
                for material, items in sorted(materials.items())
            ]
            tx.update(
                f"month:{row.shard}:{row.citizen_id}",
                CitizenMonth(row.shard, row.citizen_id),
                month_actions,
                versioned=False,
            )
        tx.commit()

    def read(self, periods: tuple[str, ...]) -> dict[str, Totals]:
        """Each period's totals with its settled and steps rows: one BatchGetItem, read raw
        (the material counters are named at run time, which a model cannot declare)."""
        rows: list[str] = []
        for period in periods:
            rows += [period, totals.SETTLED + period, totals.STEPS + period]
        raw = read_rows(rows)
        out: dict[str, Totals] = {}
        for period in periods:
            main = raw.get(period, {})
            settled = raw.get(totals.SETTLED + period, {})
            steps = raw.get(totals.STEPS + period, {})
            if not (main or settled or steps):
                continue
            out[period] = Totals(
                period,
                _number(main, "points_issued"),
                _number(main, "points_paid"),
                _number(main, "items_recycled"),
                _number(main, "entries"),
                materials=materials_of(main),
                points_settled=_number(settled, "points_settled"),
                steps_synced=_number(steps, "steps_synced"),
                points_forfeited=_number(main, "points_forfeited"),
            )
        return out


def _districts(citizen_ids: set[str]) -> dict[str, str]:
    """The districts of the citizens whose month rows a batch adds to (the monthly report's
    `district`): one eventually consistent BatchGetItem per 100 citizens, none for a batch
    without recycling."""
    wanted: list[tuple[type[Model], str, str | None]] = [
        (Citizen, c, None) for c in sorted(citizen_ids)
    ]
    found: dict[str, str] = {}
    for start in range(0, len(wanted), MAX_KEYS):
        for item in batch_get(wanted[start : start + MAX_KEYS], eventually=(Citizen,)):
            assert isinstance(item, Citizen)
            found[item.citizen_id] = item.district
    return found


def _number(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if isinstance(value, dict) and "N" in value else 0


def materials_of(item: dict[str, Any]) -> dict[str, int]:
    """The `m_<material>` counters of a raw item."""
    return {
        name[len(MATERIAL_PREFIX) :]: int(value["N"])
        for name, value in sorted(item.items())
        if name.startswith(MATERIAL_PREFIX) and "N" in value
    }


def read_rows(rows: list[str]) -> dict[str, dict[str, Any]]:
    """Raw city-totals items by period (BatchGetItem, strongly consistent: the audit
    compares them with what it summed); unprocessed keys asked again with backoff."""
    client = aws_clients.client("dynamodb")
    table = CityTotal.Meta.table_name
    found: dict[str, dict[str, Any]] = {}
    pending = [{"period": {"S": r}} for r in dict.fromkeys(rows)]
    for attempt in range(8):
        response = client.batch_get_item(
            RequestItems={table: {"Keys": pending, "ConsistentRead": True}}
        )
        for item in response.get("Responses", {}).get(table, []):
            found[item["period"]["S"]] = item
        pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        if not pending:
            return found
        time.sleep(0.01 * 2**attempt)
    raise RetryableConflict("DynamoDB left city totals unprocessed; try again")


class DynamoDbMonthCounters:
    """Citizens' month rows for the recycling report (chalicelib.services.reports)."""

    def month_rows(self, shard: str) -> Iterator[CitizenMonthItems]:
        """One partition's rows, a Query page (1 MB, some 10,000 citizens) per request, read
        raw: the material counters are named at run time. Eventually consistent: the report
        runs hours after the month closed."""
        client = aws_clients.client("dynamodb")
        pages = client.get_paginator("query").paginate(
            TableName=CitizenMonth.Meta.table_name,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "shard"},
            ExpressionAttributeValues={":s": {"S": shard}},
        )
        for page in pages:
            for item in page.get("Items", []):
                district = item.get("district", {}).get("S")
                yield CitizenMonthItems(item["citizen_id"]["S"], materials_of(item), district)
