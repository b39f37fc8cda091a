"""One contract, two fleet stores: the in-memory fake the unit tests use and the DynamoDB
adapter (on moto) keep the same conditions, so the service behaves alike on both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.air import AirAlert, AirGrade, Reading
from chalicelib.domain.fleet import (
    NoState,
    Notice,
    NotMet,
    OpenAlert,
    Stale,
    Status,
)
from tests.fakes import MemoryFleet

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        registry = {
            d["device_id"]: {**d, "lat": d["location"]["lat"], "lon": d["location"]["lon"]}
            for d in _fleet()["devices"]
        }
        yield MemoryFleet(registry)
    else:
        from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet

        request.getfixturevalue("aws")
        yield DynamoDbFleet("gimhae")


def _fleet() -> dict[str, Any]:
    from infra.local.provision import load_fleet

    return load_fleet()


def _state(store: Any, device_id: str, device_type: str) -> Any:
    return store.device(device_id) or store.create_state(device_id, device_type)


def test_a_registered_device_gets_its_state_an_unknown_one_none(store: Any) -> None:
    state = _state(store, "shelter-001", "shelter")
    assert (state.name, state.district, state.online) == (
        "연지공원 북측 스마트쉼터",
        "naeoe-dong",
        False,
    )
    assert store.create_state("shelter-999", "shelter") is None
    assert store.create_state("robot-001", "shelter") is None


def _register(store: Any, device: dict[str, Any]) -> None:
    if isinstance(store, MemoryFleet):
        store.registry[device["device_id"]] = {**device, **device["location"]}
    else:
        from chalicelib.adapters.dynamodb_devices import DynamoDbDevices

        DynamoDbDevices.register([device], NOW)


def test_a_device_provisioned_again_is_renamed_and_moved_its_readings_kept(store: Any) -> None:
    # GIVEN shelter-001 reporting where the fleet file puts it
    _state(store, "shelter-001", "shelter")
    store.apply_reading("shelter-001", Reading(NOW, pm10=90.0, pm25=10.0), NOW)
    # WHEN it is provisioned again with another name, district and location
    moved = {
        "device_id": "shelter-001",
        "type": "shelter",
        "name": "회현동 쉼터",
        "district": "hoehyeon-dong",
        "location": {"lat": 35.2301, "lon": 128.8795},
    }
    _register(store, moved)
    store.create_state("shelter-001", "shelter")
    # THEN its state is at the new place, under the new name, with what it reported
    state = store.device("shelter-001")
    assert (state.name, state.district, state.lat, state.lon) == (
        "회현동 쉼터",
        "hoehyeon-dong",
        35.2301,
        128.8795,
    )
    assert (state.pm10, state.grade) == (90.0, AirGrade.BAD)
    assert [s.device_id for s in store.devices("shelter", "hoehyeon-dong")] == ["shelter-001"]
    assert "shelter-001" not in [s.device_id for s in store.devices("shelter", "naeoe-dong")]


def test_only_a_newer_reading_changes_the_state(store: Any) -> None:
    _state(store, "shelter-001", "shelter")
    state = store.apply_reading("shelter-001", Reading(NOW, pm10=90.0, pm25=10.0), NOW)
    assert (state.pm10, state.grade, state.online) == (90.0, AirGrade.BAD, True)
    for older in (NOW, NOW - timedelta(seconds=1)):
        with pytest.raises(Stale):
            store.apply_reading("shelter-001", Reading(older, pm10=1.0), NOW)
    with pytest.raises(NoState):
        store.apply_reading("robot-001", Reading(NOW, pm10=1.0), NOW)
    later = store.apply_reading(
        "shelter-001", Reading(NOW + timedelta(seconds=1), humidity=40.0), NOW
    )
    assert (later.pm10, later.humidity) == (90.0, 40.0)  # a reading left out keeps the last


def test_status_and_presence_keep_their_own_order(store: Any) -> None:
    _state(store, "robot-001", "robot")
    full = Status(NOW, True, {"can": 0.95, "pet": 0.1}, "E1", "1.0")
    assert store.apply_status("robot-001", "robot", full, NOW).accepting is False
    with pytest.raises(Stale):
        store.apply_status("robot-001", "robot", Status(NOW, True, {"can": 0.0}, None, None), NOW)
    assert store.apply_presence("robot-001", 6, False, NOW).online is False
    with pytest.raises(Stale):
        store.apply_presence("robot-001", 5, True, NOW)
    assert store.count("robot-001", "deposits_not_accepting", only_if_not_accepting=True)
    assert store.device("robot-001").deposits_not_accepting == 1


def test_a_transition_holds_once(store: Any) -> None:
    _state(store, "shelter-001", "shelter")
    state = store.apply_reading("shelter-001", Reading(NOW, pm10=200.0), NOW)
    after = AirAlert(episode=NOW.isoformat(), worst=AirGrade.VERY_BAD)
    notice = Notice("a1", "shelter-001", "air", "opened", NOW, "air very bad", "high")
    kwargs: dict[str, Any] = {
        "guard": {("telemetry_ts",): state.telemetry_ts},
        "opened": {"fault": OpenAlert("fault", NOW, "x")},
        "closed": (),
        "seen": state.alerts,
        "air": (state.air_alert, after),
        "sets": {"purifier_desired": "high"},
        "notices": ((notice, {"alert_id": "a1"}),),
        "now": NOW,
    }
    store.transition("shelter-001", **kwargs)
    done = store.device("shelter-001")
    assert done.air_alert == after
    assert set(done.alerts) == {"fault"}
    assert sorted(p.key for p in done.outbox) == ["a1:opened", "a1:opened#purifier"]
    with pytest.raises(NotMet):  # the same transition again: the alert is no longer as seen
        store.transition("shelter-001", **kwargs)
    store.delivered("shelter-001", ["a1:opened"])
    assert [p.key for p in store.device("shelter-001").outbox] == ["a1:opened#purifier"]


def test_a_minute_of_air_is_counted_once(store: Any) -> None:
    _state(store, "shelter-001", "shelter")
    hour = NOW.replace(minute=0, second=0)
    assert store.record_air("shelter-001", Reading(hour, pm10=20.0, pm25=10.0))
    assert not store.record_air("shelter-001", Reading(hour, pm10=99.0, pm25=99.0))
    assert store.record_air("shelter-001", Reading(hour + timedelta(minutes=1), pm10=40.0))
    (means,) = store.air_hours("shelter-001", hour, hour + timedelta(minutes=59))
    assert (means.pm10, means.pm25, means.samples) == (30.0, 10.0, 2)


def test_lists_by_district(store: Any) -> None:
    for device in _fleet()["devices"]:
        _state(store, device["device_id"], device["type"])
    assert [s.device_id for s in store.devices("robot")] == ["robot-001", "robot-002"]
    assert [s.device_id for s in store.devices("shelter", "naeoe-dong")] == [
        "shelter-001", "shelter-002"]  # fmt: skip
    assert store.devices("shelter", "saman-dong") == []


def test_a_shadow_document_applies_once_per_version_and_only_as_seen(store: Any) -> None:
    _state(store, "shelter-001", "shelter")

    def apply(version: int, seen: tuple[str | None, str | None], again: str | None) -> Any:
        return store.apply_shadow(
            "shelter-001", version=version, reported="off", desired_seen="off",
            expect_seen=seen, override_seen=None, reassert=again, now=NOW,
        )  # fmt: skip

    state = apply(5, (None, None), "auto")
    assert (state.shadow_version, state.shadow_desired, state.purifier_reported) == (
        5,
        "off",
        "off",
    )
    assert [p.key for p in state.outbox] == ["shadow:5#purifier"]
    assert state.outbox[0].document["purifier"] == "auto"
    with pytest.raises(Stale):
        apply(5, ("off", None), None)  # the same version again
    with pytest.raises(NotMet):
        apply(6, (None, None), None)  # the shadow's desired moved since it was read
    with pytest.raises(NoState):
        store.apply_shadow("robot-001", version=1, reported=None, desired_seen=None,
                           expect_seen=(None, None), override_seen=None, reassert=None,
                           now=NOW)  # fmt: skip


def test_both_stores_find_devices_by_geohash_ranges(store: Any) -> None:
    """ "Near me"'s reads (chalicelib.domain.geo.nearest): the devices of a type in geohash
    ranges (or all of them), and states by id in the order asked, a missing one left out."""
    from chalicelib.domain.geo import block_around

    for device in _fleet()["devices"]:
        store.create_state(device["device_id"], device["type"])
    park = block_around(35.2334, 128.8733, 5).ranges
    assert sorted(p.device_id for p in store.placed("shelter", park)) == [
        "shelter-001",
        "shelter-002",
    ]
    assert store.placed("shelter", [("wy79", "wy7d")]) == []  # cells away from the park
    placed = {p.device_id: (p.lat, p.lon) for p in store.placed("robot", None)}
    assert placed == {"robot-001": (35.2406, 128.8709), "robot-002": (35.2392, 128.8724)}
    found = store.states_of(["shelter-002", "robot-404", "shelter-001"])
    assert [s.device_id for s in found] == ["shelter-002", "shelter-001"]
