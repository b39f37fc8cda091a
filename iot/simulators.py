"""Simulated days in the park, on the real agents (iot/agents.py): what `./dev up --demo` runs.

Pure generators (a clock, a dust curve, a deposit mix, a walker's day), so tests can check
them without a network; the demo (infra/local/demo.py) feeds them to agents and the API.

Time compression: a `SimClock` at speed 60 runs a Seoul day in 24 minutes. Only the
*shape* follows the simulated clock (the dust's daily pattern, when walkers walk, how fast
bins fill); every message still carries the real time, because the cloud judges
`occurred_at` and telemetry `ts` against its own clock.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

KST = dt.timezone(dt.timedelta(hours=9))


class SimClock:
    """Simulated Seoul time running `speed` times faster than the wall clock."""

    def __init__(self, speed: float = 1.0, start: dt.datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = start or dt.datetime.now(KST)
        self._t0 = time.monotonic()

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def hour(self) -> float:
        """Hour of the simulated day, 0 <= h < 24."""
        now = self.now()
        return now.hour + now.minute / 60 + now.second / 3600

    def sim_seconds(self, real_seconds: float) -> float:
        return real_seconds * self.speed


def _bump(hour: float, centre: float, width: float) -> float:
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-((distance / width) ** 2))


@dataclass
class DustModel:
    """A shelter's PM10/PM2.5: a clean night, traffic peaks at 8:00 and 19:00, and now and
    then an episode of bad air (yellow dust, a fire) that lasts one to three hours."""

    rng: random.Random = field(default_factory=random.Random)
    episode_per_hour: float = 0.08
    episode_left_h: float = 0.0
    episode_extra: float = 0.0
    drift: float = 0.0

    def step(self, hour: float, elapsed_h: float) -> tuple[float, float]:
        """(pm10, pm25) after `elapsed_h` simulated hours, at `hour` of the day."""
        if self.episode_left_h > 0:
            self.episode_left_h -= elapsed_h
        elif self.rng.random() < self.episode_per_hour * elapsed_h:
            self.episode_left_h = self.rng.uniform(1.0, 3.0)
            self.episode_extra = self.rng.uniform(90.0, 170.0)
        self.drift = 0.9 * self.drift + self.rng.gauss(0, 3.0)
        base = 22 + 30 * _bump(hour, 8, 1.8) + 25 * _bump(hour, 19, 2.2) + self.drift
        if self.episode_left_h > 0:
            base += self.episode_extra
        pm10 = max(3.0, base)
        pm25 = max(1.0, pm10 * self.rng.uniform(0.4, 0.55))
        return round(pm10, 1), round(pm25, 1)


def shelter_readings(
    dust: DustModel, hour: float, elapsed_h: float, rng: random.Random
) -> dict[str, Any]:
    pm10, pm25 = dust.step(hour, elapsed_h)
    busy = _bump(hour, 8, 1.5) + _bump(hour, 18, 2.0)
    return {
        "pm10": pm10,
        "pm25": pm25,
        "temp_c": round(8 + 8 * _bump(hour, 14, 5) + rng.gauss(0, 0.5), 1),
        "humidity": round(min(95.0, max(15.0, 55 - 15 * _bump(hour, 14, 5) + rng.gauss(0, 3))), 1),
        "co2_ppm": int(430 + 300 * busy + rng.uniform(0, 80)),
        "occupancy": max(0, int(rng.gauss(6 * busy, 1.5))),
        "chargers": {"total": 4, "in_use": min(4, max(0, int(rng.gauss(3 * busy, 1))))},
    }


@dataclass
class DepositMix:
    """Who deposits what at a robot: codes from the app and phone numbers, cans and PET, some
    items the robot rejects (a glass bottle, a dirty can), now and then nothing accepted."""

    rng: random.Random = field(default_factory=random.Random)
    code_share: float = 0.6
    nothing_accepted: float = 0.05

    def items(self) -> list[dict[str, Any]]:
        if self.rng.random() < self.nothing_accepted:
            return [{"material": "can", "accepted": 0, "rejected": self.rng.randint(1, 3)}]
        items = []
        for material, mean in (("can", 2.5), ("pet", 2.0)):
            accepted = max(0, int(self.rng.gauss(mean, 1.5)))
            rejected = 1 if self.rng.random() < 0.15 else 0
            if accepted or rejected:
                items.append({"material": material, "accepted": accepted, "rejected": rejected})
        return items or [{"material": "pet", "accepted": 1, "rejected": 0}]

    def uses_code(self) -> bool:
        return self.rng.random() < self.code_share


@dataclass
class Bins:
    """A robot's fill levels: items fill them; an operator empties a full one after a while."""

    rng: random.Random = field(default_factory=random.Random)
    levels: dict[str, float] = field(default_factory=lambda: {"can": 0.1, "pet": 0.1})
    per_item: float = 0.02
    empty_after_h: float = 1.0
    full_since_h: float | None = None

    def add(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            material = str(item["material"])
            if material in self.levels:
                level = self.levels[material] + self.per_item * int(item["accepted"])
                self.levels[material] = round(min(1.0, level), 2)

    @property
    def accepting(self) -> bool:
        return max(self.levels.values()) < 0.9

    def tend(self, elapsed_h: float) -> None:
        """An operator empties a full robot `empty_after_h` (simulated) after it filled."""
        if self.accepting:
            self.full_since_h = None
            return
        self.full_since_h = (self.full_since_h or 0.0) + elapsed_h
        if self.full_since_h >= self.empty_after_h:
            self.levels = {m: round(self.rng.uniform(0, 0.05), 2) for m in self.levels}
            self.full_since_h = None


@dataclass
class Walker:
    """A citizen whose steps grow over the simulated day: little at night, most at the
    morning and evening walks."""

    citizen_id: str
    display_name: str
    district: str
    daily_goal: int
    steps: int = 0
    day: str = ""

    def advance(self, clock_day: str, hour: float, elapsed_h: float, rng: random.Random) -> int:
        if clock_day != self.day:
            self.day, self.steps = clock_day, 0
        activity = 0.02 + _bump(hour, 7, 1.5) + _bump(hour, 12.5, 1) * 0.5 + _bump(hour, 20, 2)
        per_hour = self.daily_goal * activity / 4.0
        walked = max(0.0, rng.gauss(per_hour, per_hour / 3)) * elapsed_h
        self.steps = min(100_000, self.steps + int(walked))
        return self.steps


WALKER_NAMES = (
    *("산책왕", "연지걷기", "봉황동러너", "장유산책"),
    *("수로왕", "가야걸음", "해반천", "분성산"),
)


def make_walkers(districts: list[str], count: int, rng: random.Random) -> list[Walker]:
    return [
        Walker(
            citizen_id=f"demo-walker-{i + 1:02d}",
            display_name=WALKER_NAMES[i % len(WALKER_NAMES)],
            district=districts[i % len(districts)],
            daily_goal=rng.randint(4_000, 16_000),
        )
        for i in range(count)
    ]


SCENARIOS = ("daily", "calm", "dust-spike")
"""Shelter scenarios (`python -m iot shelter --scenario`): the simulated day with its random
episodes, clean air, or one dust spike that rises to bad and very bad and clears."""

DUST_SPIKE: tuple[tuple[float, float], ...] = (
    (24.0, 11.0),  # good
    (55.0, 26.0),  # moderate
    (110.0, 52.0),  # bad
    (165.0, 88.0),  # very bad
    (190.0, 104.0),  # very bad
    (160.0, 84.0),  # very bad
    (100.0, 48.0),  # bad
    (50.0, 24.0),  # moderate
    (22.0, 10.0),  # good: cleared, and it stays so
)
CALM = (18.0, 8.0)


@dataclass
class ShelterScenario:
    """The readings a shelter sends, one `next()` per reading: the rest of the readings
    from the simulated day, PM10/PM2.5 from the scenario, or fixed by `pm10`/`pm25`."""

    name: str = "daily"
    clock: SimClock = field(default_factory=SimClock)
    rng: random.Random = field(default_factory=random.Random)
    pm10: float | None = None
    pm25: float | None = None
    step: int = 0
    _dust: DustModel | None = None
    _last: float | None = None

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.name!r}; scenarios: {', '.join(SCENARIOS)}")
        self._dust = DustModel(rng=self.rng)

    def next(self) -> dict[str, Any]:
        now = time.monotonic()
        elapsed_h = self.clock.sim_seconds(now - self._last) / 3600 if self._last else 0.0
        self._last = now
        assert self._dust is not None
        readings = shelter_readings(self._dust, self.clock.hour(), elapsed_h, self.rng)
        if self.name == "calm":
            readings["pm10"], readings["pm25"] = CALM
        elif self.name == "dust-spike":
            readings["pm10"], readings["pm25"] = DUST_SPIKE[min(self.step, len(DUST_SPIKE) - 1)]
        if self.pm10 is not None:
            readings["pm10"] = self.pm10
        if self.pm25 is not None:
            readings["pm25"] = self.pm25
        self.step += 1
        return readings
