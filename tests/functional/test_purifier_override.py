"""Operators hold a shelter's purifier by hand (DESIGN §4b "Purifier control"): the override
sets the shadow's desired mode and holds it against the air rule and the shelter's own
writes until it is released or expires; automatic control then resumes. Each override and
its end is in the action log. Through the real routes, the device-reports handler and the
health job on moto, with the shadow read from moto's shadow store."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain import roles
from tests.functional.conftest import Api
from tests.functional.test_fleet import (
    ROBOT,
    SHELTER,
    device_health,
    invoke,
    report,
    telemetry,
)
from tests.functional.test_fleet import fleet as fleet  # the alerts topic, shadows, clock
from tests.functional.test_purifier_ownership import deliver, shelter_writes
from tests.functional.test_table_access import _declared, touched, touched_calls

PATH = f"/v1/admin/shelters/{SHELTER}/purifier"
OPERATOR = ("operator",)


def desired_purifier(device_id: str) -> str | None:
    """The shadow's desired purifier (None: no shadow yet, or none desired)."""
    import boto3

    client = boto3.client("iot-data", region_name="ap-northeast-2")
    try:
        got = client.get_thing_shadow(thingName=device_id)
    except client.exceptions.ResourceNotFoundException:
        return None
    document = json.loads(got["payload"].read())
    mode: str | None = document.get("state", {}).get("desired", {}).get("purifier")
    return mode


def put(api: Api, body: Any, who: str = "ops-1", role: tuple[str, ...] = OPERATOR) -> Any:
    return api.call("PUT", PATH, as_user=who, roles=role, body=body)


def delete(api: Api, who: str = "ops-1", role: tuple[str, ...] = OPERATOR) -> Any:
    return api.call("DELETE", PATH, as_user=who, roles=role)


def actions(api: Api) -> list[dict[str, Any]]:
    """The purifier's actions on the shelter, oldest first."""
    answer = api.call(
        "GET", f"/v1/admin/actions?target=shelter:{SHELTER}", as_user="boss", admin=True
    )
    assert answer.status == 200, answer.body
    return list(reversed(answer.body["actions"]))


def staff_view(api: Api) -> dict[str, Any]:
    answer = api.call("GET", f"/v1/admin/shelters/{SHELTER}", as_user="ops-1", roles=OPERATOR)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def air(fleet: Any, pm10: float, seconds: int = 0) -> None:
    """A telemetry message `seconds` after the clock (which then stands there)."""
    at = fleet["clock"].advance(seconds=seconds) if seconds else fleet["clock"].now
    result = invoke(report(SHELTER, "shelter_telemetry", telemetry(at, pm10=pm10), f"t{at}"))
    assert result == {"batchItemFailures": []}


def state() -> Any:
    from chalicelib import wiring

    found = wiring.fleet().device(SHELTER, "shelter")
    assert found is not None
    return found


# ---------------------------------------------------------------- the override's life


def test_an_override_holds_the_purifier_against_bad_air_until_it_is_released(
    api: Api, fleet: Any
) -> None:
    # GIVEN bad air: automatic control desires high
    air(fleet, 120.0)
    assert desired_purifier(SHELTER) == "high"
    # WHEN an operator holds the purifier off for 30 minutes
    answer = put(api, {"mode": "off", "minutes": 30})
    # THEN the shadow desires off, and the staff view shows who holds it until when
    assert answer.status == 200, answer.body
    assert desired_purifier(SHELTER) == "off"
    until = (fleet["clock"].now + timedelta(minutes=30)).isoformat()
    assert answer.body["override"]["mode"] == "off"
    assert answer.body["override"]["by"] == "ops-1"
    assert _instant(answer.body["override"]["until"]) == until
    assert staff_view(api)["override"] == answer.body["override"]
    devices = api.call("GET", "/v1/admin/devices", as_user="ops-1", roles=OPERATOR).body
    listed = {d["device_id"]: d for d in devices["devices"]}
    assert listed[SHELTER]["override"] == answer.body["override"]
    assert listed["shelter-002"]["override"] is None
    assert "override" not in listed[ROBOT]
    # AND the public view keeps its shape (no override, no operator's name)
    public = api.call("GET", f"/v1/shelters/{SHELTER}").body
    assert "override" not in public
    assert public["purifier"]["desired"] == "high"  # what automatic control decided
    # WHEN the air stays bad and the shelter writes its own desired, the override holds
    air(fleet, 140.0, seconds=5)
    deliver(shelter_writes({"desired": {"purifier": "high"}}))
    assert desired_purifier(SHELTER) == "off"
    # WHEN the operator releases it
    released = delete(api, who="ops-2")
    # THEN automatic control is back at once: high, in bad air
    assert released.status == 200, released.body
    assert released.body["override"] is None
    assert desired_purifier(SHELTER) == "high"
    # AND the action log has both, each with its actor and what it did
    log = actions(api)
    assert [(a["action"], a["actor"], a["roles"]) for a in log] == [
        ("purifier.override", "ops-1", ["operator"]),
        ("purifier.release", "ops-2", ["operator"]),
    ]
    assert log[0]["detail"] == {"mode": "off", "minutes": 30, "until": log[0]["detail"]["until"]}
    assert log[1]["detail"]["ending"] == "released"
    assert log[1]["detail"]["automatic"] == "high"
    assert log[1]["detail"]["set_by"] == "ops-1"


def test_the_air_rule_decides_under_an_override_and_its_decision_applies_after(
    api: Api, fleet: Any
) -> None:
    # GIVEN good air and an override holding the purifier off
    air(fleet, 20.0)
    assert put(api, {"mode": "off", "minutes": 60}).status == 200
    # WHEN the air turns bad: the alert goes out, the shadow stays off
    air(fleet, 160.0, seconds=5)
    assert desired_purifier(SHELTER) == "off"
    assert state().purifier_desired == "high"  # the decision, kept for later
    # WHEN the override is released, the air rule's high applies
    assert delete(api).status == 200
    assert desired_purifier(SHELTER) == "high"


def test_an_expired_override_is_ended_by_the_health_job_as_the_system(api: Api, fleet: Any) -> None:
    air(fleet, 120.0)
    assert put(api, {"mode": "auto", "minutes": 1}).status == 200
    assert desired_purifier(SHELTER) == "auto"
    # WHEN its minute is up, views show no override even before the job runs
    fleet["clock"].advance(seconds=61)
    assert staff_view(api)["override"] is None
    # AND the health job ends it and puts the automatic mode back
    figures = device_health()
    assert figures["overrides_ended"] == [SHELTER]
    assert desired_purifier(SHELTER) == "high"
    assert state().override is None
    log = actions(api)
    assert [(a["action"], a["actor"], a["roles"]) for a in log] == [
        ("purifier.override", "ops-1", ["operator"]),
        ("purifier.release", "system", []),
    ]
    assert log[1]["detail"]["ending"] == "expired"
    # AND a second run, or a late DELETE, changes nothing and records nothing
    assert device_health()["overrides_ended"] == []
    assert delete(api).status == 200
    assert len(actions(api)) == 2


def test_an_active_override_is_left_alone_by_the_health_job(api: Api, fleet: Any) -> None:
    assert put(api, {"mode": "high", "minutes": 2}).status == 200
    fleet["clock"].advance(seconds=119)
    assert device_health()["overrides_ended"] == []
    assert staff_view(api)["override"]["mode"] == "high"


def test_a_shelter_writing_its_shadow_after_expiry_gets_the_automatic_mode(
    api: Api, fleet: Any
) -> None:
    air(fleet, 120.0)
    assert put(api, {"mode": "off", "minutes": 1}).status == 200
    fleet["clock"].advance(seconds=90)  # expired, the health job not run yet
    deliver(shelter_writes({"desired": {"purifier": "off"}}))
    assert desired_purifier(SHELTER) == "high"


def test_a_repeated_override_replaces_the_last_one_and_is_recorded_each_time(
    api: Api, fleet: Any
) -> None:
    first = put(api, {"mode": "off", "minutes": 10}).body["override"]
    fleet["clock"].advance(seconds=30)
    again = put(api, {"mode": "off", "minutes": 10}).body["override"]
    assert again["until"] > first["until"]
    fleet["clock"].advance(seconds=1)
    other = put(api, {"mode": "high", "minutes": 5}, who="ops-2").body["override"]
    assert (other["mode"], other["by"]) == ("high", "ops-2")
    assert desired_purifier(SHELTER) == "high"
    assert [a["action"] for a in actions(api)] == ["purifier.override"] * 3
    # a DELETE repeated ends it once
    fleet["clock"].advance(seconds=1)
    assert delete(api).status == 200
    assert delete(api).status == 200
    assert [a["action"] for a in actions(api)] == ["purifier.override"] * 3 + ["purifier.release"]


def test_an_unreachable_shadow_is_updated_by_the_health_job(api: Api, fleet: Any) -> None:
    from chalicelib import wiring
    from chalicelib.domain.purifier import ShadowUnreachable

    service = wiring.purifier()
    shadows = service._shadows

    class Down:
        def desire_purifier(self, device_id: str, mode: str) -> None:
            raise ShadowUnreachable("IoT data plane unreachable")

    service._shadows = Down()
    try:
        # WHEN the shadow cannot be updated, the override still holds (it is recorded)
        answer = put(api, {"mode": "off", "minutes": 30})
    finally:
        service._shadows = shadows
    assert answer.status == 200, answer.body
    assert answer.body["override"]["mode"] == "off"
    assert desired_purifier(SHELTER) != "off"
    # THEN the health job sends it from the outbox once the writer's grace is over
    fleet["clock"].advance(seconds=61)
    device_health()
    assert desired_purifier(SHELTER) == "off"
    assert state().outbox == ()


# ---------------------------------------------------------------- races


def test_two_operators_racing_end_with_the_last_writers_mode(api: Api, fleet: Any) -> None:
    """A's write, then B's write and delivery, then A's delivery: A reads back, sees B's
    override in force and sends it again, so the shadow ends with B's mode."""
    from chalicelib import wiring

    service = wiring.purifier()
    real = service._shadows
    sent: list[str] = []

    class Interleaved:
        def desire_purifier(self, device_id: str, mode: str) -> None:
            if not sent:
                sent.append("b-first")
                service._shadows = real
                assert put(api, {"mode": "high", "minutes": 5}, who="ops-b").status == 200
            sent.append(mode)
            real.desire_purifier(device_id, mode)

    service._shadows = Interleaved()
    try:
        assert put(api, {"mode": "off", "minutes": 5}, who="ops-a").status == 200
    finally:
        service._shadows = real
    assert desired_purifier(SHELTER) == "high"
    assert staff_view(api)["override"]["by"] == "ops-b"
    assert sorted(a["actor"] for a in actions(api)) == ["ops-a", "ops-b"]


def test_the_air_rule_racing_an_override_loses_to_it(api: Api, fleet: Any) -> None:
    """The air rule read the state before the override was written and records its decision
    after: its condition (the override as seen) fails, it decides again and holds off."""
    from chalicelib import wiring

    air(fleet, 20.0)
    store = wiring.fleet()._store
    real = store.transition
    calls: list[int] = []

    def late_transition(device_id: str, **kwargs: Any) -> Any:
        if not calls:
            calls.append(1)
            assert put(api, {"mode": "off", "minutes": 30}).status == 200
        return real(device_id, **kwargs)

    store.transition = late_transition  # type: ignore[method-assign]
    try:
        air(fleet, 130.0, seconds=5)
    finally:
        store.transition = real  # type: ignore[method-assign]
    assert desired_purifier(SHELTER) == "off"
    assert state().purifier_desired == "high"
    assert state().air_alert.open


def test_an_air_update_landing_after_the_override_is_put_back_by_the_shadow_loop(
    api: Api, fleet: Any
) -> None:
    """The air rule recorded high before the override, but its shadow update lands after the
    override's: the shadow document that comes back makes the cloud assert the override."""
    from chalicelib import wiring

    air(fleet, 20.0)
    service = wiring.fleet()
    real = service._shadows
    order: list[str] = []

    class Late:
        def desire_purifier(self, device_id: str, mode: str) -> None:
            if not order:
                order.append("override")
                assert put(api, {"mode": "off", "minutes": 30}).status == 200
            order.append(mode)
            real.desire_purifier(device_id, mode)

    service._shadows = Late()
    try:
        air(fleet, 130.0, seconds=5)
    finally:
        service._shadows = real
    assert order == ["override", "high"]
    assert desired_purifier(SHELTER) == "high"  # for a moment
    # WHEN the shadow's document comes back, the cloud asserts the override's mode
    current = json.loads(
        __import__("boto3").client("iot-data", region_name="ap-northeast-2")
        .get_thing_shadow(thingName=SHELTER)["payload"].read()
    )  # fmt: skip
    deliver({"current": {"state": current["state"], "version": current["version"]}})
    assert desired_purifier(SHELTER) == "off"


def test_a_release_racing_the_expiry_is_recorded_once(api: Api, fleet: Any) -> None:
    from chalicelib import wiring

    air(fleet, 120.0)
    assert put(api, {"mode": "off", "minutes": 1}).status == 200
    fleet["clock"].advance(seconds=70)
    store = wiring.purifier()._store
    real = store.end_override
    calls: list[int] = []

    def job_first(*args: Any, **kwargs: Any) -> None:
        if not calls:
            calls.append(1)
            assert device_health()["overrides_ended"] == [SHELTER]
        real(*args, **kwargs)

    store.end_override = job_first  # type: ignore[method-assign]
    try:
        assert delete(api).status == 200
    finally:
        store.end_override = real  # type: ignore[method-assign]
    releases = [a for a in actions(api) if a["action"] == "purifier.release"]
    assert [a["actor"] for a in releases] == ["system"]
    assert desired_purifier(SHELTER) == "high"


def test_a_release_racing_a_new_override_ends_the_newer_one(api: Api, fleet: Any) -> None:
    """The DELETE read override A; B replaced it before the DELETE's write: its condition
    fails, it reads again and ends B (the last writer wins), recording what it ended."""
    from chalicelib import wiring

    air(fleet, 120.0)
    assert put(api, {"mode": "off", "minutes": 30}, who="ops-a").status == 200
    store = wiring.purifier()._store
    real = store.end_override
    calls: list[int] = []

    def override_first(*args: Any, **kwargs: Any) -> None:
        if not calls:
            calls.append(1)
            assert put(api, {"mode": "auto", "minutes": 30}, who="ops-b").status == 200
        real(*args, **kwargs)

    store.end_override = override_first  # type: ignore[method-assign]
    try:
        assert delete(api, who="ops-c").body["override"] is None
    finally:
        store.end_override = real  # type: ignore[method-assign]
    log = actions(api)  # at the same instant of the test's clock: in no particular order
    assert sorted((a["action"], a["actor"]) for a in log) == [
        ("purifier.override", "ops-a"),
        ("purifier.override", "ops-b"),
        ("purifier.release", "ops-c"),
    ]
    (release,) = [a for a in log if a["action"] == "purifier.release"]
    assert release["detail"]["set_by"] == "ops-b"
    assert desired_purifier(SHELTER) == "high"


# ---------------------------------------------------------------- who may, and what


ROUTES = [
    ("PUT", PATH, {"mode": "off", "minutes": 5}, roles.Power.PURIFIER),
    ("DELETE", PATH, None, roles.Power.PURIFIER),
    ("GET", f"/v1/admin/shelters/{SHELTER}", None, roles.Power.DEVICES),
]


@pytest.mark.parametrize(("method", "path", "body", "power"), ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize(
    "held",
    [
        ("admin",),
        ("operator",),
        ("finance",),
        ("support",),
        ("citizen",),
        ("Admin",),
        ("admin ",),
        ("finance", "support"),
        (),
    ],
)
def test_each_route_answers_exactly_the_roles_that_hold_its_power(
    api: Api, fleet: Any, method: str, path: str, body: Any, power: Any, held: tuple[str, ...]
) -> None:
    answer = api.call(method, path, as_user="staff-1", roles=held, body=body)
    if roles.may(frozenset(held), power):
        assert answer.status == 200, answer.body
        return
    assert answer.status == 403, answer.body
    assert answer.body["error"]["code"] == "forbidden_role"
    assert answer.body["error"]["details"] == [{"roles": list(roles.roles_for(power))}]
    assert desired_purifier(SHELTER) is None  # nothing was sent
    assert actions(api) == []


@pytest.mark.parametrize(("method", "path", "body", "power"), ROUTES, ids=[r[0] for r in ROUTES])
def test_no_token_or_a_forged_one_is_a_401(
    api: Api, fleet: Any, method: str, path: str, body: Any, power: Any
) -> None:
    assert api.call(method, path, body=body).status == 401
    forged = {"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    assert api.call(method, path, body=body, headers=forged).status == 401


@pytest.mark.parametrize(
    "device_id",
    ["shelter-999", ROBOT, "nope", "%F0%9F%92%A9", "x" * 300, "shelter-001%0A", "shelter%20001"],
)
@pytest.mark.parametrize("method", ["PUT", "DELETE", "GET"])
def test_unknown_shelters_and_robots_are_404(
    api: Api, fleet: Any, device_id: str, method: str
) -> None:
    path = f"/v1/admin/shelters/{device_id}" + ("" if method == "GET" else "/purifier")
    body = {"mode": "off", "minutes": 5} if method == "PUT" else None
    answer = api.call(method, path, as_user="ops-1", roles=OPERATOR, body=body)
    assert answer.status == 404, (device_id, answer.body)
    assert answer.body["error"]["code"] == "shelter_not_found"
    assert actions(api) == []


BAD_BODIES = [
    ({"mode": "off", "minutes": 0}, 422),
    ({"mode": "off", "minutes": 1441}, 422),
    ({"mode": "off", "minutes": -5}, 422),
    ({"mode": "off", "minutes": 10**30}, 422),
    ({"mode": "off", "minutes": "5"}, 400),
    ({"mode": "off", "minutes": 5.5}, 400),
    ({"mode": "off", "minutes": 5.0}, 400),
    ({"mode": "off", "minutes": True}, 400),
    ({"mode": "off", "minutes": None}, 400),
    ({"mode": "HIGH", "minutes": 5}, 422),
    ({"mode": "High", "minutes": 5}, 422),
    ({"mode": " high", "minutes": 5}, 422),
    ({"mode": "on", "minutes": 5}, 422),
    ({"mode": "off\u0000", "minutes": 5}, 422),
    ({"mode": "o" * 100_000, "minutes": 5}, 422),
    ({"mode": "off", "minutes": 5, "note": "x" * 300_000}, 413),
    ({"mode": 1, "minutes": 5}, 422),
    ({"mode": "off"}, 400),
    ({"minutes": 5}, 400),
    ({"mode": "off", "minutes": 5, "by": "someone-else"}, 400),
    ([{"mode": "off", "minutes": 5}], 400),
    ("off", 400),
    (None, 400),
]


@pytest.mark.parametrize(("body", "status"), BAD_BODIES)
def test_a_bad_body_is_refused_in_the_error_shape_and_changes_nothing(
    api: Api, fleet: Any, body: Any, status: int
) -> None:
    answer = put(api, body)
    assert answer.status == status, answer.body
    assert set(answer.body["error"]) == {"code", "message", "details"}
    assert desired_purifier(SHELTER) is None
    assert staff_view(api)["override"] is None
    assert actions(api) == []


def test_a_body_that_is_not_json_is_a_400(api: Api, fleet: Any) -> None:
    for raw in (b"{", b"mode=off&minutes=5", b"\xff\xfe", b'{"mode": "off", "minutes": 5}x'):
        answer = api.call("PUT", PATH, as_user="ops-1", roles=OPERATOR, raw=raw)
        assert answer.status == 400, (raw, answer.body)


# ---------------------------------------------------------------- costs and grants


def test_requests_per_operation(api: Api, fleet: Any) -> None:
    air(fleet, 120.0)
    with touched_calls() as override_calls:
        put(api, {"mode": "off", "minutes": 1})
    with touched_calls() as view_calls:
        staff_view(api)
    with touched_calls() as release_calls:
        delete(api)
    with touched_calls() as noop_calls:
        delete(api)
    put(api, {"mode": "off", "minutes": 1})
    fleet["clock"].advance(seconds=61)
    from chalicelib import wiring

    with touched_calls() as expiry_calls:
        wiring.purifier().end_expired()
    assert override_calls == {"TransactWriteItems": 1, "UpdateItem": 1}
    assert view_calls == {"GetItem": 1}
    assert release_calls == {"GetItem": 1, "TransactWriteItems": 1, "UpdateItem": 1}
    assert noop_calls == {"GetItem": 1}
    assert expiry_calls == {"Query": 1, "TransactWriteItems": 1, "UpdateItem": 1}


def test_the_routes_and_the_health_job_touch_only_their_declared_tables(
    api: Api, fleet: Any
) -> None:
    with touched() as tables:
        put(api, {"mode": "off", "minutes": 1})
        staff_view(api)
        delete(api)
    assert tables <= _declared("api_handler")
    assert tables == {"DeviceState", "StaffAction"}
    put(api, {"mode": "off", "minutes": 1})
    fleet["clock"].advance(seconds=61)
    with touched() as job_tables:
        device_health()
    # (the offline alerts' table too when a device falls silent: test_fleet_access.py)
    assert {"DeviceState", "StaffAction"} <= job_tables <= _declared("device_health")


def _instant(text: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).astimezone(UTC).isoformat()
