"""Write the console's district outlines, `console/data/districts.geojson`: SCHEMATIC.

There is no survey boundary data on this machine (and no network to fetch any), so the
outlines are built, honestly labelled: each district of `chalicelib/data/districts.json`
gets an approximate centre (below, placed by hand near where the district lies; not
surveyed), and the districts are the Voronoi cells of those centres clipped to a rough,
convex outline of the city within its bounds. The map shows where a device stands relative
to its neighbours; it is no cadastral map. A real boundary file (the national statistics
office's administrative boundaries, say) can replace the output with the same properties.

    python tools/district_outlines.py            # rewrite the file
    python tools/district_outlines.py --check    # fail if the file is not what it writes
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DISTRICTS = ROOT / "chalicelib" / "data" / "districts.json"
OUTPUT = ROOT / "console" / "data" / "districts.geojson"

NOTE = (
    "Schematic outlines, not survey boundaries: Voronoi cells of approximate district "
    "centres clipped to a rough city outline (tools/district_outlines.py)."
)

# Approximate centres (lat, lon), placed by hand: close enough to put each district beside
# its neighbours, not a measurement. Yeonji Park's demo devices (35.24, 128.87) fall in
# naeoe-dong, as iot/fleet/yeonji-park.json registers them.
CENTRES: dict[str, tuple[float, float]] = {
    "jinyeong-eup": (35.305, 128.735),
    "jucheon-myeon": (35.262, 128.825),
    "jillye-myeon": (35.238, 128.745),
    "hallim-myeon": (35.322, 128.815),
    "saengnim-myeon": (35.352, 128.905),
    "sangdong-myeon": (35.312, 128.965),
    "daedong-myeon": (35.250, 128.985),
    "dongsang-dong": (35.238, 128.884),
    "hoehyeon-dong": (35.226, 128.877),
    "buwon-dong": (35.225, 128.891),
    "naeoe-dong": (35.240, 128.863),
    "bukbu-dong": (35.263, 128.872),
    "chilsanseobu-dong": (35.195, 128.858),
    "hwalcheon-dong": (35.224, 128.906),
    "saman-dong": (35.243, 128.906),
    "buram-dong": (35.208, 128.930),
    "jangyu1-dong": (35.186, 128.808),
    "jangyu2-dong": (35.206, 128.788),
    "jangyu3-dong": (35.176, 128.835),
}

# A rough convex outline of the city (lat, lon), inside districts.json's bounds.
CITY: list[tuple[float, float]] = [
    (35.405, 128.870),
    (35.380, 128.960),
    (35.330, 129.020),
    (35.230, 129.025),
    (35.165, 128.960),
    (35.140, 128.860),
    (35.150, 128.775),
    (35.210, 128.680),
    (35.290, 128.660),
    (35.360, 128.720),
]

_KX = math.cos(math.radians(35.25))  # degrees of longitude shrink by cos(latitude)

Point = tuple[float, float]  # (x, y): x = lon scaled, y = lat


def _xy(lat: float, lon: float) -> Point:
    return (lon * _KX, lat)


def _lonlat(p: Point) -> list[float]:
    return [round(p[0] / _KX, 5), round(p[1], 5)]


def _clip(polygon: list[Point], a: Point, b: Point) -> list[Point]:
    """The part of a polygon nearer to site `a` than to site `b` (Sutherland-Hodgman
    against the bisector's half-plane; the result of a convex polygon stays convex)."""
    nx, ny = b[0] - a[0], b[1] - a[1]
    c = (b[0] ** 2 + b[1] ** 2 - a[0] ** 2 - a[1] ** 2) / 2

    def inside(p: Point) -> bool:
        return p[0] * nx + p[1] * ny <= c

    def cross(p: Point, q: Point) -> Point:
        fp, fq = p[0] * nx + p[1] * ny - c, q[0] * nx + q[1] * ny - c
        t = fp / (fp - fq)
        return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

    out: list[Point] = []
    for i, current in enumerate(polygon):
        previous = polygon[i - 1]
        if inside(current):
            if not inside(previous):
                out.append(cross(previous, current))
            out.append(current)
        elif inside(previous):
            out.append(cross(previous, current))
    return out


def outlines() -> dict[str, object]:
    data = json.loads(DISTRICTS.read_text(encoding="utf-8"))
    codes = [d["code"] for d in data["districts"]]
    missing = sorted(set(codes) - set(CENTRES))
    if missing:
        raise SystemExit(f"no centre for {', '.join(missing)}: add one to CENTRES")
    city = [_xy(*p) for p in CITY]
    sites = {code: _xy(*CENTRES[code]) for code in codes}
    features = []
    for d in data["districts"]:
        cell = city
        for other, site in sites.items():
            if other != d["code"]:
                cell = _clip(cell, sites[d["code"]], site)
        ring = [_lonlat(p) for p in reversed(cell)]  # counter-clockwise (RFC 7946)
        ring.append(ring[0])
        lat, lon = CENTRES[d["code"]]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": d["code"],
                    "name": d["name"],
                    "centre": [lon, lat],
                    "schematic": True,
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {
        "type": "FeatureCollection",
        "name": f"{data['city']}-districts",
        "schematic": True,
        "note": NOTE,
        "features": features,
    }


def render() -> str:
    lines = json.dumps(outlines(), ensure_ascii=False, separators=(",", ":"))
    return lines.replace('{"type":"Feature",', '\n{"type":"Feature",') + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run tools/district_outlines.py")
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
