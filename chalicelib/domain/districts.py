"""The city's administrative districts, kept as data so another city is a data change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "districts.json"


@dataclass(frozen=True)
class District:
    code: str
    name: str


@lru_cache(maxsize=4)
def districts(path: Path = DATA_FILE) -> dict[str, District]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {d["code"]: District(code=d["code"], name=d["name"]) for d in data["districts"]}


def is_district(code: str) -> bool:
    return code in districts()


@dataclass(frozen=True)
class Bounds:
    """The city's area (with a margin): where its devices may stand."""

    south: float
    north: float
    west: float
    east: float

    def holds(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


@lru_cache(maxsize=4)
def city_bounds(path: Path = DATA_FILE) -> Bounds:
    data = json.loads(path.read_text(encoding="utf-8"))["bounds"]
    return Bounds(
        float(data["south"]), float(data["north"]), float(data["west"]), float(data["east"])
    )
