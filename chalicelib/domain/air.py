"""Air in a shelter (DESIGN §3, §5): the Korean grade, what a sensor can physically report,
and the alert hysteresis that keeps a flapping sensor from paging operators every minute.

Pure Python. The grade is the worse of PM10's and PM2.5's; the alert opens when the grade
becomes bad or very bad and clears only after ten minutes in a row at moderate or better,
so one episode of bad air is one alert and one clearing, however often the reading crosses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal


class AirGrade(StrEnum):
    GOOD = "good"
    MODERATE = "moderate"
    BAD = "bad"
    VERY_BAD = "very_bad"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_bad(self) -> bool:
        return self.rank >= 2


_RANK = {AirGrade.GOOD: 0, AirGrade.MODERATE: 1, AirGrade.BAD: 2, AirGrade.VERY_BAD: 3}

# Upper bounds (µg/m³, inclusive) of good, moderate and bad; above the last is very bad.
# The standard's bands are whole numbers (good 0-30, moderate 31-80); a live value of 30.4
# is still good, 30.6 is not: a value belongs to the band its rounding falls in.
PM10_BANDS = (30, 80, 150)
PM25_BANDS = (15, 35, 75)
_GRADES = (AirGrade.GOOD, AirGrade.MODERATE, AirGrade.BAD, AirGrade.VERY_BAD)


def _band(value: float, bands: tuple[int, int, int]) -> AirGrade:
    rounded = int(value + 0.5)  # values are never negative here: plausibility runs first
    for bound, grade in zip(bands, _GRADES, strict=False):
        if rounded <= bound:
            return grade
    return AirGrade.VERY_BAD


def pm10_grade(value: float) -> AirGrade:
    return _band(value, PM10_BANDS)


def pm25_grade(value: float) -> AirGrade:
    return _band(value, PM25_BANDS)


def grade(pm10: float | None, pm25: float | None) -> AirGrade | None:
    """The shelter's grade: the worse of the two; None when neither was measured."""
    grades = []
    if pm10 is not None:
        grades.append(pm10_grade(pm10))
    if pm25 is not None:
        grades.append(pm25_grade(pm25))
    return max(grades, key=lambda g: g.rank) if grades else None


# What a shelter's sensors can physically report. A value outside is a broken sensor or a
# forged message: refused, never stored. Ranges are wide on purpose (the worst yellow-dust
# days in Korea measured PM10 near 1,500 µg/m³), so only the impossible is refused.
LIMITS: dict[str, tuple[float, float]] = {
    "pm10": (0, 2000),
    "pm25": (0, 2000),
    "temp_c": (-40, 60),
    "humidity": (0, 100),
    "co2_ppm": (250, 10000),
    "occupancy": (0, 200),
    "chargers.total": (0, 64),
}


@dataclass(frozen=True)
class Reading:
    """One telemetry message's values, as typed at the edge (every reading optional)."""

    ts: datetime
    pm10: float | None = None
    pm25: float | None = None
    temp_c: float | None = None
    humidity: float | None = None
    co2_ppm: float | None = None
    occupancy: int | None = None
    chargers_total: int | None = None
    chargers_in_use: int | None = None

    @property
    def grade(self) -> AirGrade | None:
        return grade(self.pm10, self.pm25)


def implausible(reading: Reading) -> list[str]:
    """Why this reading cannot be real: empty when it can. Each entry names the field."""
    problems = []
    values: dict[str, float | None] = {
        "pm10": reading.pm10,
        "pm25": reading.pm25,
        "temp_c": reading.temp_c,
        "humidity": reading.humidity,
        "co2_ppm": reading.co2_ppm,
        "occupancy": reading.occupancy,
        "chargers.total": reading.chargers_total,
    }
    for name, value in values.items():
        if value is None:
            continue
        low, high = LIMITS[name]
        if not low <= value <= high:
            problems.append(f"{name}: {value} is outside {low:g}..{high:g}")
    in_use, total = reading.chargers_in_use, reading.chargers_total
    if in_use is not None:
        if in_use < 0:
            problems.append(f"chargers.in_use: {in_use} is negative")
        elif total is None:
            problems.append("chargers.in_use: given without chargers.total")
        elif in_use > total:
            problems.append(f"chargers.in_use: {in_use} chargers in use of {total}")
    return problems


# ---------------------------------------------------------------- alert hysteresis

CLEAR_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class AirAlert:
    """A shelter's stored air-alert state. `episode` names the open episode (its opening
    time), `calm_since` when the air last became moderate or better while it is open."""

    episode: str | None = None
    worst: AirGrade | None = None
    calm_since: datetime | None = None

    @property
    def open(self) -> bool:
        return self.episode is not None


AirEvent = Literal["opened", "escalated", "cleared"]


@dataclass(frozen=True)
class AirStep:
    alert: AirAlert
    event: AirEvent | None = None

    @property
    def changed(self) -> bool:
        return self.event is not None


def step(
    alert: AirAlert, current: AirGrade | None, at: datetime, clear_after: timedelta = CLEAR_AFTER
) -> AirStep:
    """The alert after a reading graded `current` at `at` (readings come in time order:
    an older one never gets here). Opens on bad or very bad; a reading worse than the
    episode's worst so far escalates it (bad to very bad: one alert, a higher severity);
    while open, a bad reading restarts the calm clock, and ten calm minutes clear it."""
    if current is None:
        return AirStep(alert)
    if current.is_bad:
        if not alert.open:
            return AirStep(AirAlert(episode=at.isoformat(), worst=current), "opened")
        worse = alert.worst is not None and current.rank > alert.worst.rank
        worst = current if worse or alert.worst is None else alert.worst
        return AirStep(replace(alert, worst=worst, calm_since=None), "escalated" if worse else None)
    if not alert.open:
        return AirStep(alert)
    if alert.calm_since is None or alert.calm_since > at:
        return AirStep(replace(alert, calm_since=at))
    if at - alert.calm_since >= clear_after:
        return AirStep(AirAlert(), "cleared")
    return AirStep(alert)


Purifier = Literal["auto", "high", "off"]
PURIFIER_MODES: tuple[Purifier, ...] = ("auto", "high", "off")


def purifier_for(event: AirEvent) -> Purifier:
    """What the cloud asks of the purifier: high while the air is bad, auto after (an
    escalation keeps it high)."""
    return "auto" if event == "cleared" else "high"


@dataclass(frozen=True)
class HourMeans:
    """A shelter's air over one hour: the means of its readings, and how many there were."""

    hour: datetime
    pm10: float | None
    pm25: float | None
    samples: int

    @property
    def grade(self) -> AirGrade | None:
        return grade(self.pm10, self.pm25)
