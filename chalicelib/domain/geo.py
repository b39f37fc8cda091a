"""Places on the Earth for "near me" (DESIGN §4c): a point from a query, great-circle
distances, geohash cells and their neighbours, and the look-up of the nearest devices from
an index of cells. Pure: the index is read through a function the caller passes.

A geohash cell of precision p is a box of the lat/lon grid: 5p bits, interleaved from the
longitude's first (most significant first), written in base 32. Its rows and columns are
plain integers here (`Cell`), so a neighbour is a row or column away (columns wrap at the
antimeridian; there is nothing beyond a pole). In the base-32 text a cell's sub-cells share
its prefix and the alphabet is in ASCII order, so a cell, and a run of cells that follow
each other in that order, is one range of an index sorted by geohash.

The look-up (`nearest`): at each level (`LEVELS`), the point's cell and the three cells
around the corner of it the point is nearest to (a 2 x 2 block: 4 cells, read as at most
4 ranges). No device outside the block is nearer than the block's edge (`Block.radius_m`,
a lower bound computed on the sphere), so when `limit` devices of the block are nearer
than that, they are the answer, sorted exactly (distance, then device id). Else the next,
coarser level; after the last, the whole index (the point is far from the fleet, or the
fleet has fewer devices than `limit`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

EARTH_RADIUS_M: Final = 6_371_008.8  # the mean radius (IUGG)
ALPHABET: Final = "0123456789bcdefghjkmnpqrstuvwxyz"
_VALUE = {ch: n for n, ch in enumerate(ALPHABET)}
STORED_PRECISION: Final = 9
"""What a device's index entry holds: cells of ~4.8 m; every level below is its prefix."""
LEVELS: Final = (5, 4)
"""The look-up's block levels: precision 5 (cells ~4.9 x 4.0 km in Gimhae: a block reaches
at least 2 km around the point, ~14 shelters of 500 spread over the city), then 4 (~19.5 x
32 km: at least 9.7 km, most of the city). Measured (docs/fleet.md "Near me"): with 500
devices of a type, no point of the city needs the whole index, and the nearest 10 take 4.2
range Queries on average on bench/city_seed.py's city (2.9 with devices spread evenly)."""
BOUND_SLACK_M: Final = 0.001  # floating point: a device on the block's edge is not nearer


# ---------------------------------------------------------------- a point


class BadPoint(ValueError):
    """A `near` that names no point on the Earth."""


_DEGREES = r"[+-]?[0-9]{1,3}(?:\.[0-9]{1,15})?"
_NEAR = re.compile(rf"({_DEGREES}),({_DEGREES})", re.ASCII)


def parse_point(text: str) -> tuple[float, float]:
    """`<lat>,<lon>` in decimal degrees (ASCII digits, an optional sign and up to 15
    decimals; no spaces, exponents, `nan`, `inf` or other scripts' digits), latitude in
    -90..90 and longitude in -180..180."""
    found = _NEAR.fullmatch(text)
    if found is None:
        raise BadPoint("near must be <lat>,<lon> in decimal degrees, e.g. 35.2334,128.8733")
    lat, lon = float(found[1]), float(found[2])
    if not -90 <= lat <= 90:
        raise BadPoint(f"latitude {found[1]} is outside -90..90")
    if not -180 <= lon <= 180:
        raise BadPoint(f"longitude {found[2]} is outside -180..180")
    return lat, lon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres (haversine, on the mean sphere)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# ---------------------------------------------------------------- geohash cells


def _bits(precision: int) -> tuple[int, int]:
    """(latitude bits, longitude bits) of a precision: longitude takes the odd one."""
    total = 5 * precision
    return total // 2, total - total // 2


@dataclass(frozen=True)
class Cell:
    """A geohash cell by its row (from the south pole) and column (from -180°)."""

    row: int
    col: int
    precision: int

    @property
    def rows(self) -> int:
        return 1 << _bits(self.precision)[0]

    @property
    def cols(self) -> int:
        return 1 << _bits(self.precision)[1]

    @property
    def height(self) -> float:
        return 180.0 / self.rows

    @property
    def width(self) -> float:
        return 360.0 / self.cols

    @property
    def south(self) -> float:
        return -90.0 + self.row * self.height

    @property
    def west(self) -> float:
        return -180.0 + self.col * self.width

    def neighbour(self, north: int, east: int) -> Cell | None:
        """The cell `north` rows up and `east` columns right (wrapping at the antimeridian);
        None beyond a pole."""
        row = self.row + north
        if not 0 <= row < self.rows:
            return None
        return Cell(row, (self.col + east) % self.cols, self.precision)

    def neighbours(self) -> list[Cell]:
        """The (up to) 8 cells around, from north clockwise."""
        around = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
        return [c for n, e in around if (c := self.neighbour(n, e)) is not None]

    @property
    def geohash(self) -> str:
        lat_bits, lon_bits = _bits(self.precision)
        code = 0
        for k in range(5 * self.precision):  # even positions: longitude, most significant first
            if k % 2 == 0:
                bit = (self.col >> (lon_bits - 1 - k // 2)) & 1
            else:
                bit = (self.row >> (lat_bits - 1 - k // 2)) & 1
            code = code << 1 | bit
        return "".join(
            ALPHABET[(code >> 5 * (self.precision - 1 - n)) & 31] for n in range(self.precision)
        )

    @classmethod
    def of(cls, lat: float, lon: float, precision: int) -> Cell:
        """The cell holding the point (bisection: a point on an edge goes north/east)."""
        lat_bits, lon_bits = _bits(precision)
        return cls(_index(lat, -90.0, 90.0, lat_bits), _index(lon, -180.0, 180.0, lon_bits),
                   precision)  # fmt: skip

    @classmethod
    def parse(cls, geohash: str) -> Cell:
        if not geohash or any(ch not in _VALUE for ch in geohash):
            raise ValueError(f"not a geohash: {geohash[:24]!r}")
        precision = len(geohash)
        row = col = 0
        k = 0
        for ch in geohash:
            value = _VALUE[ch]
            for shift in range(4, -1, -1):
                bit = value >> shift & 1
                if k % 2 == 0:
                    col = col << 1 | bit
                else:
                    row = row << 1 | bit
                k += 1
        return cls(row, col, precision)


def _index(value: float, low: float, high: float, bits: int) -> int:
    index = 0
    for _ in range(bits):
        middle = (low + high) / 2  # exact: a dyadic fraction of the range
        index <<= 1
        if value >= middle:
            index |= 1
            low = middle
        else:
            high = middle
    return index


def geohash(lat: float, lon: float, precision: int = STORED_PRECISION) -> str:
    return Cell.of(lat, lon, precision).geohash


def _successor(code: str) -> str | None:
    """The next cell of the same precision in the alphabet's order (None after the last)."""
    head = code.rstrip(ALPHABET[-1])
    if not head:
        return None
    rest = len(code) - len(head)
    return head[:-1] + ALPHABET[_VALUE[head[-1]] + 1] + ALPHABET[0] * rest


def ranges(cells: Iterable[Cell]) -> list[tuple[str, str]]:
    """The cells as index ranges `(first, last)` of geohash prefixes: cells that follow one
    another in the alphabet's order share one range."""
    out: list[tuple[str, str]] = []
    for code in sorted({c.geohash for c in cells}):
        if out and _successor(out[-1][1]) == code:
            out[-1] = (out[-1][0], code)
        else:
            out.append((code, code))
    return out


# ---------------------------------------------------------------- the block around a point


@dataclass(frozen=True)
class Block:
    cells: tuple[Cell, ...]
    radius_m: float
    """No point outside the block is nearer than this to the point (a lower bound)."""

    @property
    def ranges(self) -> list[tuple[str, str]]:
        return ranges(self.cells)


def block_around(lat: float, lon: float, precision: int) -> Block:
    """The point's cell and the three toward the corner it is nearest to (fewer at a pole),
    and how far around the point the block reaches at least."""
    cell = Cell.of(lat, lon, precision)
    north = 1 if lat >= cell.south + cell.height / 2 else -1
    east = 1 if lon >= cell.west + cell.width / 2 else -1
    cells = [c for n, e in ((0, 0), (north, 0), (0, east), (north, east))
             if (c := cell.neighbour(n, e)) is not None]  # fmt: skip
    south_edge = min(c.south for c in cells)
    north_edge = max(c.south for c in cells) + cell.height
    west_edge = cell.west + min(0, east) * cell.width  # unwrapped: may pass ±180
    east_edge = west_edge + 2 * cell.width
    phi = math.radians(lat)
    reach = [
        math.inf if north_edge >= 90 else EARTH_RADIUS_M * math.radians(north_edge - lat),
        math.inf if south_edge <= -90 else EARTH_RADIUS_M * math.radians(lat - south_edge),
        *(_to_meridian(phi, edge - lon) for edge in (west_edge, east_edge)),
    ]
    return Block(tuple(cells), max(0.0, min(reach) * (1 - 1e-9) - BOUND_SLACK_M))


def _to_meridian(phi: float, degrees_apart: float) -> float:
    """The distance from a point to the great circle of a meridian this far east of it:
    every path to a point beyond that meridian crosses it."""
    return EARTH_RADIUS_M * math.asin(
        min(1.0, abs(math.cos(phi) * math.sin(math.radians(degrees_apart))))
    )


# ---------------------------------------------------------------- the look-up


@dataclass(frozen=True)
class Placed:
    """A device as the location index holds it."""

    device_id: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Nearby:
    device_id: str
    distance_m: float


IndexReader = Callable[[Sequence[tuple[str, str]] | None], Iterable[Placed]]
"""Reads the index: the devices in these geohash ranges, or (None) every device."""


def rank(lat: float, lon: float, placed: Iterable[Placed]) -> list[Nearby]:
    """Nearest first; equal distances by device id."""
    found = [Nearby(p.device_id, distance_m(lat, lon, p.lat, p.lon)) for p in placed]
    return sorted(found, key=lambda n: (n.distance_m, n.device_id))


def nearest(
    lat: float, lon: float, limit: int, read: IndexReader, levels: Sequence[int] = LEVELS
) -> list[Nearby]:
    """The `limit` devices nearest the point, exactly: at most 4 ranges per level, then
    the whole index only if no level proved `limit` devices (see the module's docstring)."""
    for precision in levels:
        block = block_around(lat, lon, precision)
        within = [n for n in rank(lat, lon, read(block.ranges)) if n.distance_m < block.radius_m]
        if len(within) >= limit:
            return within[:limit]
    return rank(lat, lon, read(None))[:limit]
