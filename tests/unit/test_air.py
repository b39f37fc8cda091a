"""Air grades, plausibility and the alert hysteresis (DESIGN §3, §5): no AWS, no network."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.air import (
    AirAlert,
    AirGrade,
    Reading,
    grade,
    implausible,
    pm10_grade,
    pm25_grade,
    step,
)

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "good"), (30, "good"), (31, "moderate"), (80, "moderate"), (81, "bad"),
     (150, "bad"), (151, "very_bad"), (999, "very_bad")],
)  # fmt: skip
def test_pm10_bands_follow_the_korean_standard(value: float, expected: str) -> None:
    assert pm10_grade(value) == AirGrade(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "good"), (15, "good"), (16, "moderate"), (35, "moderate"), (36, "bad"),
     (75, "bad"), (76, "very_bad")],
)  # fmt: skip
def test_pm25_bands_follow_the_korean_standard(value: float, expected: str) -> None:
    assert pm25_grade(value) == AirGrade(expected)


def test_a_fractional_value_belongs_to_the_band_it_rounds_into() -> None:
    assert pm10_grade(30.4) == AirGrade.GOOD
    assert pm10_grade(30.6) == AirGrade.MODERATE


def test_the_shelter_grade_is_the_worse_of_the_two() -> None:
    assert grade(20, 40) == AirGrade.BAD  # PM10 good, PM2.5 bad
    assert grade(160, 10) == AirGrade.VERY_BAD
    assert grade(None, 20) == AirGrade.MODERATE
    assert grade(None, None) is None


@given(st.floats(0, 2000), st.floats(0, 2000))
def test_grade_is_never_better_than_either_pollutant(pm10: float, pm25: float) -> None:
    combined = grade(pm10, pm25)
    assert combined is not None
    assert combined.rank == max(pm10_grade(pm10).rank, pm25_grade(pm25).rank)


@given(st.floats(0, 1999), st.floats(0, 1))
def test_grade_never_improves_as_dust_rises(value: float, more: float) -> None:
    assert pm10_grade(value + more).rank >= pm10_grade(value).rank
    assert pm25_grade(value + more).rank >= pm25_grade(value).rank


@pytest.mark.parametrize(
    ("reading", "field"),
    [
        (Reading(T0, pm10=-1), "pm10"),
        (Reading(T0, pm25=-0.1), "pm25"),
        (Reading(T0, humidity=100.5), "humidity"),
        (Reading(T0, temp_c=90), "temp_c"),
        (Reading(T0, co2_ppm=10), "co2_ppm"),
        (Reading(T0, occupancy=-2), "occupancy"),
        (Reading(T0, chargers_total=4, chargers_in_use=5), "chargers.in_use"),
        (Reading(T0, chargers_total=4, chargers_in_use=-1), "chargers.in_use"),
    ],
)
def test_impossible_readings_are_named(reading: Reading, field: str) -> None:
    problems = implausible(reading)
    assert problems and problems[0].startswith(field)


def test_a_real_reading_is_plausible() -> None:
    reading = Reading(
        T0, pm10=42.0, pm25=18.5, temp_c=21.3, humidity=40.0, co2_ppm=650, occupancy=3,
        chargers_total=4, chargers_in_use=1,
    )  # fmt: skip
    assert implausible(reading) == []


# ---------------------------------------------------------------- hysteresis


def _run(grades: list[AirGrade], every: timedelta = timedelta(minutes=1)) -> list[str]:
    alert, events = AirAlert(), []
    for i, g in enumerate(grades):
        result = step(alert, g, T0 + i * every)
        alert = result.alert
        if result.event:
            events.append(result.event)
    return events


def test_bad_air_opens_once_and_clears_after_ten_calm_minutes() -> None:
    grades = [AirGrade.GOOD] * 3 + [AirGrade.BAD] * 5 + [AirGrade.MODERATE] * 12
    assert _run(grades) == ["opened", "cleared"]


def test_nine_calm_minutes_do_not_clear() -> None:
    grades = [AirGrade.BAD] + [AirGrade.GOOD] * 10  # calm from minute 1 to minute 10: 9 min
    assert _run(grades) == ["opened"]


def test_worse_air_in_an_open_episode_escalates_it_once() -> None:
    grades = [AirGrade.BAD, AirGrade.VERY_BAD, AirGrade.BAD, AirGrade.VERY_BAD]
    assert _run(grades) == ["opened", "escalated"]
    assert _run([AirGrade.VERY_BAD, AirGrade.BAD, AirGrade.VERY_BAD]) == ["opened"]


def test_a_sensor_flapping_every_minute_for_an_hour_alerts_once() -> None:
    # GIVEN a sensor that crosses the bad threshold every minute for an hour
    grades = [AirGrade.BAD if i % 2 else AirGrade.MODERATE for i in range(60)]
    # THEN one alert, and no clearing while it keeps coming back
    assert _run(grades) == ["opened"]


def test_a_randomly_flapping_sensor_alerts_a_few_times_an_hour_at_most() -> None:
    rng = random.Random(7)
    for _ in range(200):
        # readings every 20 s for an hour, bad with probability p
        p = rng.random()
        grades = [AirGrade.BAD if rng.random() < p else AirGrade.GOOD for _ in range(180)]
        events = _run(grades, timedelta(seconds=20))
        # an episode needs 10 calm minutes to close: at most 6 openings in an hour
        assert events.count("opened") <= 6
        assert events[: len(events) : 2] == ["opened"] * len(events[::2])


@given(st.lists(st.sampled_from(list(AirGrade)), max_size=200))
def test_openings_and_clearings_alternate(grades: list[AirGrade]) -> None:
    everything = _run(grades)
    events = [e for e in everything if e != "escalated"]
    assert all(e == ("opened" if i % 2 == 0 else "cleared") for i, e in enumerate(events))
    # an escalation only within an open episode, at most once each
    episodes = " ".join(everything).split("cleared")
    assert all(e.count("escalated") <= 1 and e.count("opened") <= 1 for e in episodes)
    assert all(e.find("opened") < e.find("escalated") for e in episodes if "escalated" in e)
    # each clearing needs ten readings a minute apart after a bad one
    assert events.count("cleared") <= len(grades) // 11


@given(st.lists(st.sampled_from(list(AirGrade)), max_size=100))
def test_replaying_the_last_reading_changes_nothing(grades: list[AirGrade]) -> None:
    alert = AirAlert()
    for i, g in enumerate(grades):
        alert = step(alert, g, T0 + timedelta(minutes=i)).alert
    if grades:
        again = step(alert, grades[-1], T0 + timedelta(minutes=len(grades) - 1))
        assert again.event is None
        assert again.alert == alert
