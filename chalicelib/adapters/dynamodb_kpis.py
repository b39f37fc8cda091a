"""DynamoDB adapters for the live services' KPIs: the table they are kept in (`kpis`, one
Query per period) and the figures they are computed from, read without a scan:
- the city totals' day rows (items, materials, points; steps) and the month's walkers row:
  one BatchGetItem for up to 50 days (a month and the week around it fit in one);
- the city step boards' count trees (a day's and a week's active walkers): one BatchGetItem
  of two nodes per board;
- the fleet's states (presence): one Query of the `by-group` index per device type;
- each shelter's air hours over the run's periods: one paged Query per shelter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.adapters import aws_clients
from chalicelib.adapters.dynamodb_boards import DynamoDbBoards
from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet, hour_key
from chalicelib.adapters.dynamodb_models import AirHour, KpiValue
from chalicelib.adapters.dynamodb_totals import materials_of, read_rows
from chalicelib.domain import boards, totals
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.kpis import (
    AirHourReadings,
    DayFigures,
    Kpi,
    Period,
    Presence,
    in_catalog_order,
    period_of,
)

KPI_RETENTION = timedelta(days=800)
"""A period's KPIs outlive their sources' shortest retention (air hours: 30 days) by far:
the city reports on last year's figures."""
_BATCH_KEYS = 100
_DAYS_PER_READ = 33  # 2 keys a day + the month rows: under BatchGetItem's 100 keys


def _number(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if isinstance(value, dict) and "N" in value else 0


class DynamoDbKpis:
    """The KPI table: a period's KPIs written together, read in one Query."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def save(self, period: Period, kpis: list[Kpi]) -> None:
        """One BatchWriteItem (a dozen items): each KPI replaced whole, so a re-run of the
        same period leaves what one run leaves."""
        expires = period.ends_at + KPI_RETENTION
        with KpiValue.batch_write() as batch:
            for kpi in kpis:
                batch.save(
                    KpiValue(
                        period.key, kpi.kpi_id, service=kpi.service, name=kpi.name,
                        name_en=kpi.name_en, unit=kpi.unit, value=kpi.value,
                        formula=kpi.formula, kind=kpi.period, date=kpi.date.isoformat(),
                        computed_at=kpi.computed_at, expires=expires,
                    )
                )  # fmt: skip

    def read(self, period: Period) -> list[Kpi]:
        """The period's KPIs as last computed: one Query (eventually consistent: they change
        every quarter of an hour at most)."""
        return in_catalog_order(
            Kpi(
                item.kpi_id, item.service, item.name, item.name_en, item.unit,
                _plain(item.value), period.kind, date.fromisoformat(item.date), item.formula,
                item.computed_at,
            )
            for item in KpiValue.query(period.key)
        )  # fmt: skip

    def day_values(
        self, days: Iterable[date], kpi_ids: Iterable[str]
    ) -> dict[date, dict[str, float]]:
        """Some KPIs of some days as stored: one BatchGetItem per 100 keys (a month's two
        shelter KPIs: one), eventually consistent (finished days do not change)."""
        keys = [(period_of("day", d).key, k) for d in days for k in kpi_ids]
        found: dict[date, dict[str, float]] = {}
        for start in range(0, len(keys), _BATCH_KEYS):
            for item in KpiValue.batch_get(keys[start : start + _BATCH_KEYS]):
                day = date.fromisoformat(item.date)
                found.setdefault(day, {})[item.kpi_id] = _plain(item.value)
        return found

    def measured_services(self) -> frozenset[str]:
        """The live services that have figures (chalicelib.services.ports.ServiceFigures):
        those with at least one KPI above zero on the latest Seoul day computed (today, or
        yesterday while today has not been computed yet). At most two Queries."""
        today = seoul_day(self._clock())
        for day in (today, today - timedelta(days=1)):
            kpis = self.read(period_of("day", day))
            if kpis:
                return frozenset(k.service for k in kpis if k.value > 0)
        return frozenset()


def _plain(value: float) -> float:
    return int(value) if float(value).is_integer() else float(value)


class DynamoDbKpiSources:
    """What the KPIs are computed from (chalicelib.services.kpis.KpiSources)."""

    def __init__(self, city: str, silent_after: timedelta, clock: Clock) -> None:
        self._fleet = DynamoDbFleet(city)
        self._silent_after = silent_after
        self._clock = clock

    def totals(
        self, days: Iterable[date], months: Iterable[str]
    ) -> tuple[dict[date, DayFigures], dict[str, int]]:
        """Each day's totals and steps rows and each month's walkers row (BatchGetItem)."""
        wanted = sorted(set(days))
        month_rows = {totals.walkers_row(m): m for m in sorted(set(months))}
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, max(len(wanted), 1), _DAYS_PER_READ):
            rows = [
                r
                for d in wanted[start : start + _DAYS_PER_READ]
                for r in (totals.day_period(d), totals.STEPS + totals.day_period(d))
            ]
            if start == 0:
                rows += list(month_rows)
            found.update(read_rows(rows))
        figures = {}
        for day in wanted:
            main = found.get(totals.day_period(day), {})
            steps = found.get(totals.STEPS + totals.day_period(day), {})
            figures[day] = DayFigures(
                items=_number(main, "items_recycled"),
                materials=materials_of(main),
                points_issued=_number(main, "points_issued"),
                steps=_number(steps, "steps_synced"),
            )
        walkers = {m: _number(found.get(row, {}), "walkers") for row, m in month_rows.items()}
        return figures, walkers

    def board_walkers(self, board_ids: Iterable[str]) -> dict[str, int]:
        """Citizens with steps on each board: its entries (the top node's counters) less the
        zero scores (the first leaf's counter 0). One BatchGetItem."""
        ids = list(dict.fromkeys(board_ids))
        leaves = {b: boards.leaf_node(b, 0) for b in ids}
        nodes = DynamoDbBoards().nodes([n for b in ids for n in (boards.top_node(b), leaves[b])])
        return {
            b: sum(nodes[boards.top_node(b)].values()) - nodes[leaves[b]].get(0, 0) for b in ids
        }

    def presence(self) -> tuple[Presence, Presence, list[str]]:
        """Shelters and robots online now (heard within the silent limit) of those
        registered, and the shelters' ids: one Query per device type."""
        now = self._clock()
        found = []
        shelters: list[str] = []
        for device_type in ("shelter", "robot"):
            states = self._fleet.devices(device_type)
            if device_type == "shelter":
                shelters = sorted(s.device_id for s in states)
            online = sum(1 for s in states if s.status(now, self._silent_after) == "online")
            found.append(Presence(online, len(states)))
        return found[0], found[1], shelters

    def air_hours(self, shelter_id: str, first: datetime, last: datetime) -> list[AirHourReadings]:
        """A shelter's air hours from `first` to `last` (UTC hours, inclusive), read raw: the
        minute slots are named at run time. One Query, a page per ~1 MB (~250 hours)."""
        return [_readings(item) for item in _hour_items(shelter_id, first, last)]


def _hour_items(shelter_id: str, first: datetime, last: datetime) -> Iterator[dict[str, Any]]:
    client = aws_clients.client("dynamodb")
    pages = client.get_paginator("query").paginate(
        TableName=AirHour.Meta.table_name,
        KeyConditionExpression="#d = :d AND #h BETWEEN :a AND :b",
        ExpressionAttributeNames={"#d": "device_id", "#h": "hour"},
        ExpressionAttributeValues={
            ":d": {"S": shelter_id},
            ":a": {"S": hour_key(first)},
            ":b": {"S": hour_key(last)},
        },
    )
    for page in pages:
        yield from page.get("Items", [])


def _mean(item: dict[str, Any], total: str, count: str) -> float | None:
    n = _number(item, count)
    if not n:
        return None
    return round(float(item[total]["N"]) / n, 1)


def _readings(item: dict[str, Any]) -> AirHourReadings:
    chargers = []
    for name, value in item.items():
        if len(name) == 3 and name[0] == "m" and name[1:].isdigit() and "M" in value:
            in_use = value["M"].get("cu", {})
            if "N" in in_use:
                chargers.append((int(name[1:]), int(in_use["N"])))
    return AirHourReadings(
        hour=datetime.strptime(item["hour"]["S"], "%Y-%m-%dT%H").replace(tzinfo=UTC),
        pm10=_mean(item, "pm10_sum", "pm10_n"),
        pm25=_mean(item, "pm25_sum", "pm25_n"),
        chargers_in_use=tuple(sorted(chargers)),
    )
