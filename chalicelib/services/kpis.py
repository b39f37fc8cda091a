"""The live services' KPIs: computed on a schedule from the figures the backend keeps, stored
per period, read in one Query (chalicelib.domain.kpis holds every formula)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from chalicelib.domain import boards, kpis
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.kpis import AirHourReadings, DayFigures, Figures, Kpi, Period, Presence


class KpiSources(Protocol):
    def totals(
        self, days: Iterable[date], months: Iterable[str]
    ) -> tuple[dict[date, DayFigures], dict[str, int]]: ...
    def board_walkers(self, board_ids: Iterable[str]) -> dict[str, int]: ...
    def presence(self) -> tuple[Presence, Presence, list[str]]: ...
    def air_hours(
        self, shelter_id: str, first: datetime, last: datetime
    ) -> list[AirHourReadings]: ...


class KpiStore(Protocol):
    def save(self, period: Period, kpis: list[Kpi]) -> None: ...
    def read(self, period: Period) -> list[Kpi]: ...
    def day_values(
        self, days: Iterable[date], kpi_ids: Iterable[str]
    ) -> dict[date, dict[str, float]]: ...


@dataclass(frozen=True)
class Computed:
    periods: list[str]
    kpis: int


def walkers_board(period: Period) -> str | None:
    """The city board whose count tree gives a day's or a week's active walkers."""
    if period.kind == "day":
        return boards.board_id(boards.day_period(period.first), boards.CITY)
    if period.kind == "week":
        return boards.board_id(boards.week_period(period.first), boards.CITY)
    return None


def month_of(period: Period) -> str:
    return period.first.strftime("%Y-%m")


class KpiService:
    def __init__(
        self, sources: KpiSources, store: KpiStore, factors: kpis.Co2Factors, clock: Clock
    ) -> None:
        self._sources = sources
        self._store = store
        self._factors = factors
        self._clock = clock

    def refresh(self, fired_at: datetime) -> Computed:
        """The scheduled run: today's periods (and yesterday's just after midnight)."""
        return self.compute(kpis.periods_to_compute(fired_at))

    def compute(self, periods: list[Period]) -> Computed:
        """Compute and store every KPI of `periods`, reading each source once for all."""
        computed_at = self._clock()
        days = {d for p in periods for d in p.days}
        months = {month_of(p) for p in periods if p.kind == "month"}
        day_figures, month_walkers = self._sources.totals(days, months)
        board_ids = {p.key: b for p in periods if (b := walkers_board(p)) is not None}
        board_walkers = self._sources.board_walkers(board_ids.values())
        shelters_online, robots_online, shelters = self._sources.presence()
        shelter_days = self._shelter_days(periods, shelters, seoul_day(computed_at))
        written = 0
        for period in periods:
            walkers = (
                board_walkers.get(board_ids[period.key], 0)
                if period.key in board_ids
                else month_walkers.get(month_of(period), 0)
            )
            figures = Figures(day_figures, walkers, shelter_days, shelters_online, robots_online)
            found = kpis.kpis_of(period, figures, self._factors, computed_at)
            self._store.save(period, found)
            written += len(found)
        return Computed([p.key for p in periods], written)

    def _shelter_days(
        self, periods: list[Period], shelters: list[str], today: date
    ) -> dict[date, dict[str, int]]:
        """The shelters' KPIs of each day the periods cover up to today: the run's own days
        from the air hours, earlier days as their last run stored them (a day never computed
        from the air hours too). So a run reads the air hours of today (and of yesterday
        just after midnight), not a month's, whatever its periods."""
        run_days = {p.first for p in periods if p.kind == "day"}
        wanted = {d for p in periods for d in p.days if d <= today}
        found: dict[date, dict[str, int]] = {}
        earlier = sorted(wanted - run_days)
        if earlier:
            stored = self._store.day_values(earlier, kpis.SHELTER_DAY_KPIS)
            for day, values in stored.items():
                if all(k in values for k in kpis.SHELTER_DAY_KPIS):
                    found[day] = {k: int(values[k]) for k in kpis.SHELTER_DAY_KPIS}
        from_air = sorted((wanted | run_days) - set(found))
        if not from_air:
            return found
        first = kpis.period_of("day", from_air[0]).starts_at
        last = kpis.period_of("day", from_air[-1]).ends_at - timedelta(hours=1)
        hours = {s: self._sources.air_hours(s, first, last) for s in shelters}
        for day in from_air:
            found[day] = kpis.shelter_day(day, hours)
        return found

    def read(self, kind: str | None, raw_date: str | None) -> tuple[Period, list[Kpi]]:
        """A period's KPIs as last computed (none yet: an empty list). Raises
        kpis.InvalidPeriod for a period or date the KPIs cannot have."""
        period = kpis.parse_query(kind, raw_date, self._clock())
        return period, self._store.read(period)
