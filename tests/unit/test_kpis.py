"""The live services' KPIs (chalicelib.domain.kpis): periods in Seoul days, ISO weeks and
months; the CO2 factors as dated data; every formula on hand-made figures; and the month's
walkers counted once by the step boards whatever the delivery (chalicelib.domain.boards)."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import boards, kpis
from chalicelib.domain.boards import EntryChange
from chalicelib.domain.kpis import AirHourReadings, DayFigures, Figures, Presence
from chalicelib.domain.steps import StepDay

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)  # 12:00 in Seoul, a Tuesday


# -- periods ------------------------------------------------------------------------------


def test_periods_are_seoul_days_iso_weeks_and_months() -> None:
    day = date(2026, 12, 8)
    assert kpis.period_of("day", day) == kpis.Period("day", day, day)
    week = kpis.period_of("week", day)
    assert (week.first, week.last, week.key) == (date(2026, 12, 7), date(2026, 12, 13),
                                                 "week#2026-W50")  # fmt: skip
    month = kpis.period_of("month", date(2028, 2, 10))
    assert (month.first, month.last, month.key) == (date(2028, 2, 1), date(2028, 2, 29),
                                                    "month#2028-02")  # fmt: skip
    # an ISO week that starts in one year and ends in the next
    assert kpis.period_of("week", date(2027, 1, 1)).key == "week#2026-W53"
    # a Seoul day starts at 15:00 UTC the day before
    assert kpis.period_of("day", day).starts_at == datetime(2026, 12, 7, 15, tzinfo=UTC)
    assert kpis.period_of("day", day).ends_at == datetime(2026, 12, 8, 15, tzinfo=UTC)


def test_a_query_defaults_to_today_in_seoul_and_refuses_the_future() -> None:
    late = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)  # already the 9th in Seoul
    assert kpis.parse_query(None, None, late).first == date(2026, 12, 9)
    assert kpis.parse_query("week", "2026-12-09", late).first == date(2026, 12, 7)
    with pytest.raises(kpis.InvalidPeriod) as future:
        kpis.parse_query("day", "2026-12-10", late)
    assert future.value.future and future.value.field == "date"
    for kind, raw in (("year", None), ("Day", None), ("day", "2026-13-01"),
                      ("day", "20261208"), ("day", "２０２６-12-08")):  # fmt: skip
        with pytest.raises(kpis.InvalidPeriod) as bad:
            kpis.parse_query(kind, raw, late)
        assert not bad.value.future


def test_a_run_just_after_midnight_also_finalises_the_day_before() -> None:
    midnight = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Dec 1st, 00:00 in Seoul
    keys = [p.key for p in kpis.periods_to_compute(midnight)]
    assert keys == ["day#2026-11-30", "week#2026-W49", "month#2026-11",
                    "day#2026-12-01", "month#2026-12"]  # fmt: skip
    later = [p.key for p in kpis.periods_to_compute(midnight + timedelta(minutes=30))]
    assert later == ["day#2026-12-01", "week#2026-W49", "month#2026-12"]


# -- CO2 factors ----------------------------------------------------------------------------


def test_co2_factors_are_dated_data_with_their_source() -> None:
    raw = json.loads(kpis.FACTORS_FILE.read_text(encoding="utf-8"))
    factors = kpis.co2_factors()
    assert factors.as_of == raw["as_of"] and "WARM" in factors.source
    # each factor is the published per-ton saving over the item's mass
    short_ton_kg = 907.18474
    for material, saving_t in (("can", 9.13), ("pet", 1.04)):
        per_item = saving_t * 1000 / short_ton_kg * raw["item_mass_kg"][material]
        assert factors.kg_per_item[material] == pytest.approx(per_item, rel=0.01)
    assert factors.avoided({"can": 100, "pet": 1000, "glass": 7}) == round(
        100 * raw["can"] + 1000 * raw["pet"], 3
    )
    formula = kpis.formula_of(kpis.definition("co2_avoided_kg"), factors)
    assert str(raw["can"]) in formula and factors.as_of in formula


# -- formulas ---------------------------------------------------------------------------------


def _hour(at: datetime, pm10: float | None, chargers: tuple[int, ...] = ()) -> AirHourReadings:
    return AirHourReadings(at, pm10, None, tuple(enumerate(chargers)))


def test_charger_sessions_count_each_rise_in_time_order() -> None:
    h0 = datetime(2026, 12, 8, 1, tzinfo=UTC)
    hours = [_hour(h0 + timedelta(hours=1), 20, (3, 0)), _hour(h0, 20, (0, 2, 1, 1, 2))]
    # 0→2 (+2), 2→1, 1→1, 1→2 (+1), then the next hour 2→3 (+1), 3→0
    assert kpis.charger_sessions(hours) == 4
    assert kpis.charger_sessions([]) == 0


def test_good_air_hours_are_hours_graded_good_or_moderate() -> None:
    h0 = datetime(2026, 12, 8, 1, tzinfo=UTC)
    hours = [_hour(h0, 20), _hour(h0, 50), _hour(h0, 81), _hour(h0, 200), _hour(h0, None)]
    assert kpis.good_air_hours(hours) == 2  # good (20), moderate (50); bad, very bad, none


def test_every_kpi_of_a_day_from_its_figures() -> None:
    period = kpis.period_of("day", date(2026, 12, 8))
    inside = datetime(2026, 12, 8, 2, tzinfo=UTC)
    before = datetime(2026, 12, 7, 14, tzinfo=UTC)  # 23:00 in Seoul the day before
    figures = Figures(
        days={
            date(2026, 12, 8): DayFigures(12, {"can": 5, "pet": 7}, 145, 30_000),
            date(2026, 12, 7): DayFigures(99, {"can": 99}, 999, 999),
        },
        active_walkers=4,
        shelter_days={date(2026, 12, 8): kpis.shelter_day(date(2026, 12, 8), {
            "s1": [_hour(before, 20, (0, 4)), _hour(inside, 20, (0, 1)),
                   _hour(inside + timedelta(hours=1), 120, (1, 3))],
        })},
        shelter_presence=Presence(1, 2),
        robot_presence=Presence(2, 3),
    )  # fmt: skip
    found = kpis.values(period, figures, kpis.co2_factors())
    factors = kpis.co2_factors().kg_per_item
    assert found == {
        "items_recycled": 12,
        "items_recycled_can": 5,
        "items_recycled_pet": 7,
        "co2_avoided_kg": round(5 * factors["can"] + 7 * factors["pet"], 3),
        "points_issued": 145,
        "robot_availability": 66.7,
        "active_walkers": 4,
        "steps": 30_000,
        "steps_per_active_walker": 7500,
        "shelter_good_air_hours": 1,
        "charger_sessions": 3,
        "shelter_availability": 50.0,
    }
    assert list(found) == list(kpis.KPI_IDS)
    nobody = Figures({}, 0, {}, Presence(0, 0), Presence(0, 0))
    empty = kpis.values(period, nobody, kpis.co2_factors())
    assert set(empty.values()) == {0}


def test_week_and_month_sum_their_days() -> None:
    days = {date(2026, 12, d): DayFigures(d, {"can": d}, 10 * d, 100 * d) for d in range(1, 32)}
    shelter_days = {day: {"shelter_good_air_hours": 2, "charger_sessions": day.day} for day in days}
    figures = Figures(days, 3, shelter_days, Presence(0, 0), Presence(0, 0))
    week = kpis.values(kpis.period_of("week", date(2026, 12, 8)), figures, kpis.co2_factors())
    month = kpis.values(kpis.period_of("month", date(2026, 12, 8)), figures, kpis.co2_factors())
    assert week["items_recycled"] == sum(range(7, 14))
    assert month["steps"] == 100 * sum(range(1, 32))
    assert month["steps_per_active_walker"] == round(month["steps"] / 3)
    assert (week["shelter_good_air_hours"], week["charger_sessions"]) == (14, sum(range(7, 14)))


# -- the month's walkers, counted by the step boards ------------------------------------------


def _walkers(changes: list[EntryChange]) -> dict[str, int]:
    return boards.walkers_counted(changes)


@settings(max_examples=25, deadline=None)
@given(
    days=st.lists(
        st.builds(
            StepDay,
            citizen_id=st.sampled_from(["c1", "c2", "c3"]),
            day=st.sampled_from([date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)]),
            steps=st.integers(0, 3),
            district=st.just("naeoe-dong"),
            display_name=st.just("W"),
        ),
        min_size=1,
        max_size=20,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_months_walkers_count_each_citizen_with_steps_once(
    days: list[StepDay], seed: int
) -> None:
    from chalicelib.services.boards import BoardService
    from tests.fakes import MemoryBoards

    class Counting(MemoryBoards):
        rows: dict[str, int]

        def write(self, chunk: list[EntryChange]) -> None:
            super().write(chunk)
            for row, n in _walkers(chunk).items():
                self.rows[row] = self.rows.get(row, 0) + n

    # GIVEN the step days delivered in shuffled batches, some replayed
    rng = random.Random(seed)
    store = Counting()
    store.rows = {}
    service = BoardService(store, lambda: {}, lambda _: None)
    records = days + rng.sample(days, k=rng.randint(0, len(days)))
    rng.shuffle(records)
    while records:
        size = rng.randint(1, 5)
        service.apply(records[:size])
        records = records[size:]
    # THEN each month counts the citizens with steps in it, once
    expected: dict[str, int] = {}
    for month in ("2026-11", "2026-12"):
        walkers = {d.citizen_id for d in days if d.steps > 0 and d.day.strftime("%Y-%m") == month}
        if walkers:
            expected[f"walkers#month#{month}"] = len(walkers)
    assert store.rows == expected
    # AND the walkers' boards rank nobody: they are in no count tree
    assert not any("#walkers#" in node for node in store.counters)
