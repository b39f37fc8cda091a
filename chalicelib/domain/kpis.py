"""The live services' KPIs (DESIGN §4d): what each one means, its period, and its formula as
plain functions of the figures the backend already keeps (the city totals' day rows, the step
boards' count trees, the fleet's states and the shelters' air hours).

Periods are Asia/Seoul days, ISO weeks (Monday first) and calendar months; a period's `date`
is its first day. A period still running is computed "so far" at `computed_at`.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from chalicelib.domain.air import AirGrade, grade
from chalicelib.domain.clock import SEOUL, seoul_day
from chalicelib.domain.steps import week_days, week_of

PeriodKind = Literal["day", "week", "month"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("day", "week", "month")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FACTORS_FILE = Path(__file__).resolve().parent.parent / "data" / "co2_factors.json"
MATERIALS = ("can", "pet")
"""The materials with a KPI of their own (and a CO2 factor)."""
FINALISE_WITHIN = timedelta(minutes=20)
"""A run this soon after a Seoul midnight also recomputes the periods of the day before."""


class InvalidPeriod(ValueError):
    """A KPI query that names no period the KPIs have (a 400 or a 422)."""

    def __init__(self, field_name: str, message: str, *, future: bool = False) -> None:
        super().__init__(message)
        self.field = field_name
        self.future = future


# -- periods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    first: date
    last: date

    @property
    def key(self) -> str:
        """The KPI table's partition: `day#2026-12-08`, `week#2026-W50`, `month#2026-12`."""
        if self.kind == "day":
            return f"day#{self.first.isoformat()}"
        if self.kind == "week":
            return f"week#{week_of(self.first)}"
        return f"month#{self.first.strftime('%Y-%m')}"

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=SEOUL).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """The moment after its last Seoul day."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=SEOUL).astimezone(
            UTC
        )


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period of `kind` holding the Seoul day `day`."""
    if kind == "day":
        return Period("day", day, day)
    if kind == "week":
        monday, sunday = week_days(day)
        return Period("week", monday, sunday)
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return Period("month", first, after - timedelta(days=1))


def parse_query(kind: str | None, raw_date: str | None, now: datetime) -> Period:
    """`period` (day by default) and `date` (today in Seoul by default) as a query gives
    them. A malformed date is a 400; a day after today in Seoul is a 422 (no figures yet)."""
    chosen = kind or "day"
    if chosen not in PERIOD_KINDS:
        raise InvalidPeriod("period", f"period must be one of {', '.join(PERIOD_KINDS)}")
    today = seoul_day(now)
    if raw_date is None:
        day = today
    else:
        if not _DATE.fullmatch(raw_date):
            raise InvalidPeriod("date", "date must be YYYY-MM-DD")
        try:
            day = date.fromisoformat(raw_date)
        except ValueError as e:
            raise InvalidPeriod("date", "date is not a calendar day") from e
        if day > today:
            raise InvalidPeriod(
                "date", f"date is after today in Seoul ({today.isoformat()})", future=True
            )
    return period_of(chosen, day)


def periods_to_compute(now: datetime) -> list[Period]:
    """What a scheduled run computes: today's day, week and month, and, in the first minutes
    after a Seoul midnight, the day before's (its last figures, final once the day is over)."""
    days = dict.fromkeys((seoul_day(now - FINALISE_WITHIN), seoul_day(now)))
    out: dict[str, Period] = {}
    for day in days:
        for kind in PERIOD_KINDS:
            period = period_of(kind, day)
            out.setdefault(period.key, period)
    return list(out.values())


# -- what each KPI is ---------------------------------------------------------------------


@dataclass(frozen=True)
class KpiDefinition:
    kpi_id: str
    service: str
    name: str
    name_en: str
    unit: str
    formula: str


RECYCLING, WALKING, SHELTERS = "recycling", "walking", "shelters"
SERVICES = (RECYCLING, WALKING, SHELTERS)

CATALOG: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "items_recycled", RECYCLING, "재활용 품목 수", "Items recycled", "items",
        "sum over the period's Seoul days of the items credited to citizens (city totals, "
        "items_recycled)",
    ),
    KpiDefinition(
        "items_recycled_can", RECYCLING, "재활용 캔 수", "Cans recycled", "items",
        "sum over the period's days of the cans credited (city totals, m_can)",
    ),
    KpiDefinition(
        "items_recycled_pet", RECYCLING, "재활용 페트병 수", "PET bottles recycled", "items",
        "sum over the period's days of the PET bottles credited (city totals, m_pet)",
    ),
    KpiDefinition(
        "co2_avoided_kg", RECYCLING, "CO2 감축량", "CO2 avoided", "kg CO2e",
        "cans x {can} + PET bottles x {pet} kg CO2e per item ({source}, as of {as_of})",
    ),
    KpiDefinition(
        "points_issued", RECYCLING, "지급 포인트", "Points issued", "points",
        "sum over the period's days of the points earned (deposits, prizes, corrections)",
    ),
    KpiDefinition(
        "robot_availability", RECYCLING, "로봇 가동률", "Robot availability", "%",
        "100 x robots online (heard within the silent limit) / robots registered, at "
        "computed_at",
    ),
    KpiDefinition(
        "active_walkers", WALKING, "활동 보행자 수", "Active walkers", "citizens",
        "citizens with more than 0 steps stored for a day of the period (day and week: the "
        "city board's count tree less its zero scores; month: the month's walkers counter)",
    ),
    KpiDefinition(
        "steps", WALKING, "걸음 수", "Steps", "steps",
        "sum over the period's days of the stored step-day counts (city totals, steps_synced)",
    ),
    KpiDefinition(
        "steps_per_active_walker", WALKING, "활동 보행자 1인당 걸음 수",
        "Steps per active walker", "steps",
        "steps / active_walkers (0 when nobody walked), rounded to a whole step",
    ),
    KpiDefinition(
        "shelter_good_air_hours", SHELTERS, "좋음·보통 공기 쉼터 시간",
        "Shelter hours at good or moderate air", "hours",
        "shelter-hours whose hourly mean PM10 and PM2.5 grade is good or moderate (air "
        "hours, each UTC hour counted in the Seoul day it starts in); a week or month: the "
        "sum of its days'",
    ),
    KpiDefinition(
        "charger_sessions", SHELTERS, "충전기 사용 횟수", "Charger sessions", "sessions",
        "per shelter, the sum of the rises of chargers.in_use between consecutive minute "
        "readings of the day (its first reading is the baseline); a week or month: the sum "
        "of its days'",
    ),
    KpiDefinition(
        "shelter_availability", SHELTERS, "쉼터 가동률", "Shelter availability", "%",
        "100 x shelters online (heard within the silent limit) / shelters registered, at "
        "computed_at",
    ),
)  # fmt: skip
KPI_IDS = tuple(k.kpi_id for k in CATALOG)
_BY_ID = {k.kpi_id: k for k in CATALOG}


def definition(kpi_id: str) -> KpiDefinition:
    return _BY_ID[kpi_id]


# -- CO2 factors, dated data ----------------------------------------------------------------


@dataclass(frozen=True)
class Co2Factors:
    as_of: str
    source: str
    kg_per_item: Mapping[str, float]

    def avoided(self, items: Mapping[str, int]) -> float:
        """kg CO2e avoided by the items recycled, by material (a material without a factor
        counts nothing), to the gram."""
        return round(sum(n * self.kg_per_item.get(m, 0.0) for m, n in items.items()), 3)


def factors_from(raw: Mapping[str, object]) -> Co2Factors:
    per_item = {m: float(raw[m]) for m in MATERIALS if isinstance(raw.get(m), int | float)}  # type: ignore[arg-type]
    return Co2Factors(str(raw["as_of"]), str(raw["source"]), per_item)


@cache
def co2_factors() -> Co2Factors:
    return factors_from(json.loads(FACTORS_FILE.read_text(encoding="utf-8")))


def formula_of(kpi: KpiDefinition, factors: Co2Factors) -> str:
    if kpi.kpi_id != "co2_avoided_kg":
        return kpi.formula
    return kpi.formula.format(
        can=factors.kg_per_item.get("can", 0.0),
        pet=factors.kg_per_item.get("pet", 0.0),
        source=factors.source,
        as_of=factors.as_of,
    )


# -- the figures they are computed from ------------------------------------------------------


@dataclass(frozen=True)
class DayFigures:
    """One Seoul day's city totals (the ledger's and the step boards' counters)."""

    items: int = 0
    materials: Mapping[str, int] | None = None
    points_issued: int = 0
    steps: int = 0


@dataclass(frozen=True)
class AirHourReadings:
    """A shelter's UTC hour: its means, and its minute readings of chargers in use."""

    hour: datetime
    pm10: float | None
    pm25: float | None
    chargers_in_use: Sequence[tuple[int, int]] = ()
    """(minute, in use), one per minute with a reading."""

    @property
    def grade(self) -> AirGrade | None:
        return grade(self.pm10, self.pm25)


@dataclass(frozen=True)
class Presence:
    online: int
    registered: int


SHELTER_DAY_KPIS = ("shelter_good_air_hours", "charger_sessions")
"""The shelters' KPIs computed per day from the air hours: a week's or a month's is the sum
of its days' (finished days as stored, so a run reads the air hours of today only)."""


@dataclass(frozen=True)
class Figures:
    days: Mapping[date, DayFigures]
    active_walkers: int
    shelter_days: Mapping[date, Mapping[str, int]]
    """Each day's shelter KPIs (SHELTER_DAY_KPIS), from `shelter_day`."""
    shelter_presence: Presence
    robot_presence: Presence


def good_air_hours(hours: Iterable[AirHourReadings]) -> int:
    return sum(1 for h in hours if h.grade is not None and not h.grade.is_bad)


def charger_sessions(hours: Iterable[AirHourReadings]) -> int:
    """Sessions started: each rise of chargers in use between consecutive readings, in time
    order (readings are written once per minute, so a replay or a reorder changes nothing)."""
    readings = sorted((h.hour, minute, n) for h in hours for minute, n in h.chargers_in_use)
    started = 0
    for (_, _, before), (_, _, after) in itertools.pairwise(readings):
        started += max(0, after - before)
    return started


def share(presence: Presence) -> float:
    """Percent online, to one decimal; 0 when nothing is registered."""
    if presence.registered <= 0:
        return 0.0
    return round(100.0 * presence.online / presence.registered, 1)


def in_period(period: Period, hours: Iterable[AirHourReadings]) -> list[AirHourReadings]:
    return [h for h in hours if period.starts_at <= h.hour < period.ends_at]


def shelter_day(day: date, shelters: Mapping[str, Sequence[AirHourReadings]]) -> dict[str, int]:
    """A Seoul day's shelter KPIs from every shelter's air hours (each UTC hour counted in
    the Seoul day it starts in; a day's first reading is its charger baseline)."""
    period = period_of("day", day)
    hours = [in_period(period, h) for h in shelters.values()]
    return {
        "shelter_good_air_hours": sum(good_air_hours(h) for h in hours),
        "charger_sessions": sum(charger_sessions(h) for h in hours),
    }


def values(period: Period, figures: Figures, factors: Co2Factors) -> dict[str, float]:
    """Every KPI's value for the period, by kpi_id."""
    days = [figures.days.get(d, DayFigures()) for d in period.days]
    materials: dict[str, int] = {}
    for day in days:
        for material, n in (day.materials or {}).items():
            materials[material] = materials.get(material, 0) + n
    steps = sum(d.steps for d in days)
    walkers = figures.active_walkers
    shelter_days = [figures.shelter_days.get(d, {}) for d in period.days]
    return {
        "items_recycled": sum(d.items for d in days),
        "items_recycled_can": materials.get("can", 0),
        "items_recycled_pet": materials.get("pet", 0),
        "co2_avoided_kg": factors.avoided(materials),
        "points_issued": sum(d.points_issued for d in days),
        "robot_availability": share(figures.robot_presence),
        "active_walkers": walkers,
        "steps": steps,
        "steps_per_active_walker": round(steps / walkers) if walkers else 0,
        "shelter_good_air_hours": sum(d.get("shelter_good_air_hours", 0) for d in shelter_days),
        "charger_sessions": sum(d.get("charger_sessions", 0) for d in shelter_days),
        "shelter_availability": share(figures.shelter_presence),
    }


@dataclass(frozen=True)
class Kpi:
    kpi_id: str
    service: str
    name: str
    name_en: str
    unit: str
    value: float
    period: PeriodKind
    date: date
    formula: str
    computed_at: datetime


def kpis_of(
    period: Period, figures: Figures, factors: Co2Factors, computed_at: datetime
) -> list[Kpi]:
    found = values(period, figures, factors)
    return [
        Kpi(
            k.kpi_id, k.service, k.name, k.name_en, k.unit, found[k.kpi_id], period.kind,
            period.first, formula_of(k, factors), computed_at,
        )
        for k in CATALOG
    ]  # fmt: skip


def in_catalog_order(kpis: Iterable[Kpi]) -> list[Kpi]:
    order = {kpi_id: n for n, kpi_id in enumerate(KPI_IDS)}
    return sorted(kpis, key=lambda k: (order.get(k.kpi_id, len(order)), k.kpi_id))


def measured(kpis: Iterable[Kpi]) -> frozenset[str]:
    """The services with at least one KPI computed (the registry's "has figures")."""
    return frozenset(k.service for k in kpis)
