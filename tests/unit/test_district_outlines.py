"""The console's district outlines (console/data/districts.geojson): one per district the
code knows, labelled schematic, as tools/district_outlines.py writes them, tiling the city
without overlap, and putting the demo's devices in the districts they are registered in."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from chalicelib.domain.districts import city_bounds, districts
from tools import district_outlines

ROOT = Path(__file__).resolve().parents[2]
OUTLINES = json.loads((ROOT / "console" / "data" / "districts.geojson").read_text(encoding="utf-8"))


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _district_at(lon: float, lat: float) -> list[str]:
    return [
        f["properties"]["code"]
        for f in OUTLINES["features"]
        if _inside(lon, lat, f["geometry"]["coordinates"][0])
    ]


def test_the_file_is_what_the_tool_writes() -> None:
    assert district_outlines.main(["--check"]) == 0


def test_one_schematic_outline_per_district_with_its_name() -> None:
    assert OUTLINES["schematic"] is True and "not survey boundaries" in OUTLINES["note"]
    known = {code: d.name for code, d in districts().items()}
    drawn = {f["properties"]["code"]: f["properties"]["name"] for f in OUTLINES["features"]}
    assert drawn == known
    assert all(f["properties"]["schematic"] for f in OUTLINES["features"])


def test_outlines_tile_the_city_within_its_bounds() -> None:
    bounds = city_bounds()
    for feature in OUTLINES["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4
        assert all(bounds.holds(lat, lon) for lon, lat in ring)
        lon, lat = feature["properties"]["centre"]
        assert _district_at(lon, lat) == [feature["properties"]["code"]]
    # a grid over the city: every point in at most one district
    for i in range(1, 20):
        for j in range(1, 20):
            lat = bounds.south + (bounds.north - bounds.south) * i / 20
            lon = bounds.west + (bounds.east - bounds.west) * j / 20
            assert len(_district_at(lon, lat)) <= 1


def test_the_demo_fleet_stands_in_its_registered_districts() -> None:
    fleet = json.loads((ROOT / "iot" / "fleet" / "yeonji-park.json").read_text(encoding="utf-8"))
    for device in fleet["devices"]:
        where = device["location"]
        assert _district_at(where["lon"], where["lat"]) == [device["district"]], device
