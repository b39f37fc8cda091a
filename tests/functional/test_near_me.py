"""Near me (DESIGN §4c): `GET /v1/shelters?near=` and `/v1/robots?near=` through the real
routes, fleet service and DynamoDB adapter on moto. Devices are registered the way
provisioning registers them (iot/provisioning.record_devices); the answer is checked against
a brute-force sort of the full list; the reads are counted at the botocore layer
(bench.dynamodb_costs.metering)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.dynamodb_costs import metering
from chalicelib.domain.geo import distance_m
from tests.functional.conftest import Api

YEONJI_PARK = "35.2334,128.8733"
CITY = "gimhae"
LISTS = {"shelter": "shelters", "robot": "robots"}


def _register(devices: Iterable[tuple[str, str, float, float]]) -> list[str]:
    from iot.provisioning import record_devices

    rows = [
        {"device_id": d, "type": kind, "name": d, "district": "naeoe-dong",
         "location": {"lat": lat, "lon": lon}}
        for d, kind, lat, lon in devices
    ]  # fmt: skip
    record_devices(rows, CITY)
    return [r["device_id"] for r in rows]


def _place(devices: Iterable[tuple[str, str, float, float]]) -> list[str]:
    """State rows as provisioning writes them (chalicelib.adapters.dynamodb_fleet
    create_state: the location and its geohash), 25 to a request: fast enough for a
    property test's every example."""
    from chalicelib.adapters.dynamodb_models import DeviceState
    from chalicelib.domain.geo import geohash

    added = []
    with DeviceState.batch_write() as batch:
        for device_id, kind, lat, lon in devices:
            batch.save(
                DeviceState(
                    device_id, device_type=kind, fleet_group=f"{CITY}#{kind}",
                    place=f"naeoe-dong#{device_id}", name=device_id, district="naeoe-dong",
                    lat=lat, lon=lon, geohash=geohash(lat, lon), alerts={}, outbox={},
                )
            )  # fmt: skip
            added.append(device_id)
    return added


def _forget(device_ids: list[str]) -> None:
    from chalicelib.adapters.dynamodb_models import Device, DeviceState

    with DeviceState.batch_write() as states, Device.batch_write() as registry:
        for device_id in device_ids:
            states.delete(DeviceState(device_id))
            registry.delete(Device(device_id))


def _near(api: Api, kind: str, query: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/v1/{LISTS[kind]}?{query}")
    assert response.status == 200, response.body
    return list(response.body[LISTS[kind]])


def _brute_force(kind: str, lat: float, lon: float, limit: int) -> list[tuple[str, int]]:
    """Every device of the type (the full list's Query), sorted by distance, then id."""
    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet

    everyone = DynamoDbFleet(CITY).devices(kind)
    ranked = sorted((distance_m(lat, lon, d.lat, d.lon), d.device_id) for d in everyone)
    return [(device_id, round(metres)) for metres, device_id in ranked[:limit]]


# ---------------------------------------------------------------- the answer


in_gimhae = st.tuples(
    st.floats(35.15, 35.40).map(lambda v: round(v, 6)),
    st.floats(128.70, 128.98).map(lambda v: round(v, 6)),
)
near_gimhae = st.tuples(
    st.floats(35.05, 35.50).map(lambda v: round(v, 5)),
    st.floats(128.60, 129.08).map(lambda v: round(v, 5)),
)
fleets = st.lists(
    st.tuples(st.sampled_from(("shelter", "robot")), st.one_of(near_gimhae, in_gimhae)),
    max_size=40,
)


@given(
    fleet=fleets,
    point=in_gimhae,
    kind=st.sampled_from(list(LISTS)),
    limit=st.one_of(st.none(), st.integers(1, 50)),
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_nearest_are_those_of_a_brute_force_sort(
    api: Api,
    fleet: list[tuple[str, tuple[float, float]]],
    point: tuple[float, float],
    kind: str,
    limit: int | None,
) -> None:
    """Random fleets of both types in and around the city, a citizen anywhere in it: the
    answer for shelters or robots is that type's full list sorted by great-circle distance
    (ties by id); the other type never appears."""
    added = _place(
        (f"p-{kind_}-{n:02d}", kind_, lat, lon) for n, (kind_, (lat, lon)) in enumerate(fleet)
    )
    try:
        query = f"near={point[0]},{point[1]}" + ("" if limit is None else f"&limit={limit}")
        answer = _near(api, kind, query)
        expected = _brute_force(kind, *point, 10 if limit is None else limit)
        assert [(d["device_id"], d["distance_m"]) for d in answer] == expected
    finally:
        _forget(added)


def test_from_yeonji_park_the_park_shelters_come_first_with_their_distance(api: Api) -> None:
    _register([("s-far", "shelter", 35.3500, 128.7200)])
    shelters = _near(api, "shelter", f"near={YEONJI_PARK}")
    assert [s["device_id"] for s in shelters] == ["shelter-002", "shelter-001", "s-far"]
    assert [s["distance_m"] for s in shelters] == [594, 914, 19_018]
    full = {s["device_id"]: s for s in _near(api, "shelter", "")}
    for shelter in shelters:  # the usual shape, plus its distance
        assert {k: v for k, v in shelter.items() if k != "distance_m"} == full[shelter["device_id"]]
    robots = _near(api, "robot", f"near={YEONJI_PARK}&limit=1")
    assert [r["device_id"] for r in robots] == ["robot-002"]


def test_without_near_the_lists_are_as_before(api: Api) -> None:
    """A `limit` alone changes nothing (the whole list, no `distance_m`), as before `near`;
    one the document does not allow is a 400, as on every route."""
    for kind, name in LISTS.items():
        plain = api.call("GET", f"/v1/{name}").body[name]
        assert plain and all("distance_m" not in d for d in plain)
        for query in ("limit=1", "limit=50"):
            assert _near(api, kind, query) == plain, query
        for query in ("limit=0", "limit=abc", "limit=999", "limit="):
            assert api.call("GET", f"/v1/{name}?{query}").status == 400, query


# ---------------------------------------------------------------- what it costs


def test_a_look_up_is_a_few_queries_of_the_location_index_and_one_batch_get(api: Api) -> None:
    """300 shelters over the city: from Yeonji Park the nearest 10 and 50 each take at most
    8 Queries of `by-geo` (2 levels of at most 4 ranges) and one BatchGetItem; nothing
    scans, nothing reads the full list."""
    _place(
        (f"g-{i:02d}-{j:02d}", "shelter", 35.15 + i * 0.25 / 15, 128.70 + j * 0.28 / 20)
        for i in range(15)
        for j in range(20)
    )
    for limit in (10, 50):
        with metering() as meter:
            shelters = _near(api, "shelter", f"near={YEONJI_PARK}&limit={limit}")
        tally = meter.tally
        assert len(shelters) == limit
        calls = {k: n for k, n in tally.calls.items() if k.startswith("dynamodb:")}
        assert set(calls) == {"dynamodb:Query", "dynamodb:BatchGetItem"}, calls
        assert calls["dynamodb:BatchGetItem"] == 1
        assert 1 <= calls["dynamodb:Query"] <= 8
        assert set(tally.queried) == {"device-states/by-geo"}


# ---------------------------------------------------------------- hostile and edge classes


BAD_NEAR = [
    "", ",", "35.2", "35.2334,", ",128.87", "35.2334,128.8733,0", "35.2334;128.8733",
    "35.2334,%20128.8733", "nan,128.87", "35.23,inf", "Infinity,0", "1e1,0", "0x10,0",
    "%D9%A3%D9%A5,128",  # Arabic-Indic digits
    "%EF%BC%93%EF%BC%95,128",  # fullwidth digits
    "90.0001,0", "-91,0", "0,180.01", "0,-181", "35.2334,128.8733%0A", "abc,def",
    "1" * 300 + ",128", "35." + "1" * 40 + ",128",
]  # fmt: skip


@pytest.mark.parametrize("kind", list(LISTS))
def test_a_bad_point_or_limit_is_a_400(api: Api, kind: str) -> None:
    name = LISTS[kind]
    queries = [f"near={bad}" for bad in BAD_NEAR] + [
        f"near={YEONJI_PARK}&limit={bad}" for bad in ("0", "51", "-1", "abc", "1.5", "", "%D9%A1")
    ]
    queries += [f"near={YEONJI_PARK}&near={YEONJI_PARK}", f"near={YEONJI_PARK}&district=naeoe-dong"]
    for query in queries:
        response = api.call("GET", f"/v1/{name}?{query}")
        assert response.status == 400, (query, response.body)
        assert set(response.body["error"]) == {"code", "message", "details"}
        assert response.body["error"]["code"] == "invalid_query"


def test_far_from_the_city_the_nearest_come_anyway(api: Api) -> None:
    """Seoul, the antimeridian, the poles: still the fleet, nearest first, in a few reads
    (the two blocks find nothing; the whole index of the type is one Query)."""
    for point in ("37.5665,126.9780", "0,180", "-90,-180", "90,0"):
        with metering() as meter:
            shelters = _near(api, "shelter", f"near={point}")
        lat, lon = map(float, point.split(","))
        assert [(s["device_id"], s["distance_m"]) for s in shelters] == _brute_force(
            "shelter", lat, lon, 10
        )
        assert meter.tally.calls["dynamodb:Query"] <= 9, point


def test_an_empty_fleet_and_a_fleet_smaller_than_the_limit(api: Api) -> None:
    assert len(_near(api, "robot", f"near={YEONJI_PARK}&limit=50")) == 2  # the park's two
    _forget(["robot-001", "robot-002"])
    assert _near(api, "robot", f"near={YEONJI_PARK}") == []


def test_a_moved_device_and_those_from_before_the_index_are_found(api: Api) -> None:
    """Provisioning a device again moves it in the index in the same write. A state row
    written before the index existed (no geohash) is not in it until the backfill
    (iot/provisioning.index_locations: the local stack runs it at start, AWS stages with
    `python -m infra.cdk.index_locations`) or a provisioning again fills it in."""
    from chalicelib.adapters.dynamodb_models import DeviceState
    from iot.provisioning import index_locations, seed_device_states

    _register([("shelter-001", "shelter", 35.30, 128.80)])  # moved away from the park
    assert _near(api, "shelter", f"near={YEONJI_PARK}&limit=1")[0]["device_id"] == "shelter-002"
    moved = _near(api, "shelter", "near=35.30,128.80&limit=1")[0]
    assert (moved["device_id"], moved["distance_m"]) == ("shelter-001", 0)

    def unindexed() -> None:
        for device_id in ("shelter-002", "robot-001"):
            DeviceState(device_id).update(actions=[DeviceState.geohash.remove()])
        assert "shelter-002" not in [s["device_id"] for s in _near(api, "shelter", "near=0,0")]

    unindexed()
    assert index_locations(CITY) == {"robot": 1, "shelter": 1}
    assert index_locations(CITY) == {"robot": 0, "shelter": 0}
    assert _near(api, "shelter", f"near={YEONJI_PARK}&limit=1")[0]["device_id"] == "shelter-002"
    unindexed()
    seed_device_states([{"device_id": "shelter-002", "type": "shelter"}], CITY)
    assert _near(api, "shelter", f"near={YEONJI_PARK}&limit=1")[0]["device_id"] == "shelter-002"


def test_a_table_kept_from_before_gets_the_index(aws: dict[str, Any]) -> None:
    """The local stack keeps its tables in its state directory: one created before `by-geo`
    gets it at the next start (infra.local.provision.create_tables), filled from its items."""
    import boto3

    from chalicelib.adapters.dynamodb_models import DeviceState
    from infra.local.provision import add_missing_indexes
    from tests.functional.conftest import REGION

    client = boto3.client("dynamodb", region_name=REGION)
    table = DeviceState.Meta.table_name
    client.update_table(
        TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-geo"}}]
    )
    assert add_missing_indexes(DeviceState) == ["by-geo"]
    assert add_missing_indexes(DeviceState) == []
    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet

    placed = DynamoDbFleet(CITY).placed("shelter", None)
    assert sorted(p.device_id for p in placed) == ["shelter-001", "shelter-002"]
