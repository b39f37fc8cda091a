"""Geohash cells, distances, `near` points and the nearest-first look-up
(chalicelib.domain.geo, DESIGN §4c): no AWS."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.geo import (
    BadPoint,
    Cell,
    Placed,
    block_around,
    distance_m,
    geohash,
    nearest,
    parse_point,
    ranges,
    rank,
)

YEONJI_PARK = (35.2334, 128.8733)


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize(
    ("lat", "lon", "precision", "expected"),
    [
        (57.64911, 10.40744, 11, "u4pruydqqvj"),  # the example of the geohash's author
        (0.0, 0.0, 1, "s"),  # on both edges: north and east of them
        (-0.0001, -0.0001, 1, "7"),
        (90.0, 180.0, 2, "zz"),
        (-90.0, -180.0, 2, "00"),
        (*YEONJI_PARK, 5, "wy78k"),
    ],
)
def test_known_cells(lat: float, lon: float, precision: int, expected: str) -> None:
    assert geohash(lat, lon, precision) == expected
    assert Cell.parse(expected) == Cell.of(lat, lon, precision)
    assert Cell.parse(expected).geohash == expected


def test_a_cell_holds_its_point_and_its_subcells_share_its_prefix() -> None:
    cell = Cell.parse("wy78k")
    assert cell.south <= YEONJI_PARK[0] < cell.south + cell.height
    assert cell.west <= YEONJI_PARK[1] < cell.west + cell.width
    assert geohash(*YEONJI_PARK).startswith("wy78k")
    assert (round(cell.height, 6), round(cell.width, 6)) == (0.043945, 0.043945)


@pytest.mark.parametrize(
    ("cell", "north", "east", "expected"),
    [
        ("s", 0, 1, "t"),  # east, within the parent grid
        ("s", 1, 0, "u"),  # north
        ("u", 0, -1, "g"),  # west: the Atlantic
        ("0", 0, -1, "p"),  # west across the antimeridian
        ("p", 0, 1, "0"),  # and back east
        ("ezzz", 0, 1, "spbp"),  # east across the prime meridian (e | s)
        ("ezzz", 1, 0, "gbpb"),  # north across the 45th parallel (e / g)
        ("wy78k", 0, 1, "wy78m"),  # Yeonji Park's cell and its neighbours
        ("wy78k", 1, 0, "wy78s"),
        ("wy78k", -1, 0, "wy78h"),
        ("wy78k", 0, -1, "wy787"),
    ],
)
def test_neighbours_across_cell_edges(cell: str, north: int, east: int, expected: str) -> None:
    moved = Cell.parse(cell).neighbour(north, east)
    assert moved is not None and moved.geohash == expected
    back = moved.neighbour(-north, -east)
    assert back is not None and back.geohash == cell


def test_nothing_lies_beyond_a_pole() -> None:
    top = Cell.of(89.99, 10.0, 3)
    assert top.neighbour(1, 0) is None
    assert len(top.neighbours()) == 5  # west, east and the three south
    assert len(Cell.parse("wy78k").neighbours()) == 8


@given(
    lat=st.floats(-90, 90), lon=st.floats(-180, 180), precision=st.integers(1, 9),
    north=st.integers(-1, 1), east=st.integers(-1, 1),
)  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_a_neighbour_shares_an_edge_or_a_corner(
    lat: float, lon: float, precision: int, north: int, east: int
) -> None:
    cell = Cell.of(lat, lon, precision)
    moved = cell.neighbour(north, east)
    if moved is None:
        return
    assert math.isclose(moved.south, cell.south + north * cell.height, abs_tol=1e-9)
    gap = (moved.west - cell.west - east * cell.width) % 360
    assert min(gap, 360 - gap) < 1e-9  # one column over, wrapping at ±180
    assert Cell.parse(moved.geohash) == moved


def test_cells_that_follow_each_other_are_one_range() -> None:
    cells = [Cell.parse(c) for c in ("bz", "c0", "c1", "c3")]
    assert ranges(cells) == [("bz", "c1"), ("c3", "c3")]
    assert ranges([Cell.parse("zz")]) == [("zz", "zz")]


# ---------------------------------------------------------------- points and distances


@pytest.mark.parametrize(
    "text",
    [
        "", ",", "35.2", "35.2,", ",128.8", "35.2,128.8,0", "35.2;128.8", "35.2 ,128.8",
        "35.2, 128.8", "nan,128.8", "35.2,inf", "-inf,0", "1e1,0", "35.2,0x10", "3_5.2,128.8",
        "٣٥.٢,١٢٨.٨", "３５.２,１２８.８", "35.2,128.8\n", "90.1,0", "-90.0001,0", "0,180.5",
        "0,-181", "999,0", "35.2.1,128", "+-35,128", "35.,128", ".5,128",
        "1" * 400 + ",128", "35." + "1" * 16 + ",128",
    ],
)  # fmt: skip
def test_a_bad_point_is_refused(text: str) -> None:
    with pytest.raises(BadPoint):
        parse_point(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("35.2334,128.8733", YEONJI_PARK), ("-90,-180", (-90.0, -180.0)), ("90,180", (90.0, 180.0)),
     ("+0.5,-0.25", (0.5, -0.25)), ("0,0", (0.0, 0.0))],
)  # fmt: skip
def test_a_point(text: str, expected: tuple[float, float]) -> None:
    assert parse_point(text) == expected


def test_distances_on_the_sphere() -> None:
    assert distance_m(0, 0, 0, 0) == 0
    assert round(distance_m(0, 0, 1, 0)) == 111_195  # a degree of a meridian
    assert round(distance_m(0, 179.5, 0, -179.5)) == 111_195  # across the antimeridian
    assert round(distance_m(90, 0, -90, 0)) == round(math.pi * 6_371_008.8)
    # Yeonji Park to Gimhae City Hall (35.2285, 128.8894): ~1.56 km
    assert 1_500 < distance_m(*YEONJI_PARK, 35.2285, 128.8894) < 1_600


# ---------------------------------------------------------------- the block and the look-up

points = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


@given(point=points, other=points, precision=st.integers(1, 6))
@settings(max_examples=100, deadline=None)
def test_nothing_outside_the_block_is_nearer_than_its_radius(
    point: tuple[float, float], other: tuple[float, float], precision: int
) -> None:
    block = block_around(*point, precision)
    if Cell.of(*other, precision) not in block.cells:
        assert distance_m(*point, *other) >= block.radius_m


@given(
    point=st.tuples(st.floats(35.2, 35.3), st.floats(128.8, 128.9)),
    dlat=st.floats(-0.2, 0.2), dlon=st.floats(-0.2, 0.2), precision=st.integers(4, 6),
)  # fmt: skip
@settings(max_examples=100, deadline=None)
def test_nothing_nearby_outside_the_block_is_nearer_than_its_radius(
    point: tuple[float, float], dlat: float, dlon: float, precision: int
) -> None:
    """The same near Gimhae, where the points are close to the block's edges."""
    other = (point[0] + dlat, point[1] + dlon)
    block = block_around(*point, precision)
    assert block.radius_m > 0
    if Cell.of(*other, precision) not in block.cells:
        assert distance_m(*point, *other) >= block.radius_m


class Index:
    """The location index in memory, counting its reads."""

    def __init__(self, placed: list[Placed]) -> None:
        self.rows = sorted(((geohash(p.lat, p.lon), p) for p in placed), key=lambda r: r[0])
        self.reads: list[object] = []

    def read(self, found: object) -> list[Placed]:
        self.reads.append(found)
        if found is None:
            return [p for _, p in self.rows]
        assert isinstance(found, list)
        return [p for lo, hi in found for g, p in self.rows if lo <= g <= hi + "~"]


gimhae = st.tuples(st.floats(35.15, 35.40), st.floats(128.70, 128.98))
near_gimhae = st.tuples(st.floats(35.05, 35.50), st.floats(128.60, 129.08))


@given(
    fleet=st.lists(st.one_of(near_gimhae, st.sampled_from([YEONJI_PARK])), max_size=80),
    point=st.one_of(gimhae, points), limit=st.integers(1, 50),
)  # fmt: skip
@settings(max_examples=80, deadline=None)
def test_the_nearest_are_those_of_a_brute_force_sort(
    fleet: list[tuple[float, float]], point: tuple[float, float], limit: int
) -> None:
    placed = [Placed(f"d-{n:03d}", lat, lon) for n, (lat, lon) in enumerate(fleet)]
    index = Index(placed)
    found = nearest(*point, limit, index.read)
    assert found == rank(*point, placed)[:limit]
    ranged = [r for r in index.reads if r is not None]
    assert len(ranged) <= 2 and all(len(r) <= 4 for r in ranged)  # type: ignore[arg-type]
    assert index.reads.count(None) <= 1


def test_a_dense_city_is_answered_from_one_block() -> None:
    """500 shelters on a grid over the city: the nearest 10 from Yeonji Park come from the
    first block (at most 4 ranges), never from the whole index."""
    placed = [
        Placed(f"s-{i:02d}-{j:02d}", 35.15 + i * 0.25 / 20, 128.70 + j * 0.28 / 25)
        for i in range(20)
        for j in range(25)
    ]
    index = Index(placed)
    found = nearest(*YEONJI_PARK, 10, index.read)
    assert [n.device_id for n in found] == [n.device_id for n in rank(*YEONJI_PARK, placed)[:10]]
    assert len(index.reads) == 1 and len(index.reads[0]) <= 4  # type: ignore[arg-type]


def test_far_from_the_fleet_the_nearest_come_anyway() -> None:
    placed = [Placed("s-1", *YEONJI_PARK), Placed("s-2", 35.30, 128.90)]
    for point in ((37.5665, 126.9780), (-33.86, 151.21), (90.0, 0.0), (0.0, -180.0)):
        index = Index(placed)
        found = nearest(*point, 10, index.read)
        assert [n.device_id for n in found] == [n.device_id for n in rank(*point, placed)]
        assert len(index.reads) == 3 and index.reads[-1] is None


def test_an_empty_fleet_answers_nothing() -> None:
    index = Index([])
    assert nearest(*YEONJI_PARK, 10, index.read) == []
    assert len(index.reads) == 3


def test_equal_distances_go_by_device_id() -> None:
    placed = [Placed(d, *YEONJI_PARK) for d in ("s-b", "s-c", "s-a")]
    found = nearest(*YEONJI_PARK, 2, Index(placed).read)
    assert [(n.device_id, n.distance_m) for n in found] == [("s-a", 0.0), ("s-b", 0.0)]
