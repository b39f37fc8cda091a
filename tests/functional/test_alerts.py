"""Operators' alerts (DESIGN §4b) through the real device-reports handler, the health job and
the routes, on moto: raised and cleared exactly once by the fleet's rules under replays and
reordering, air escalated within its episode, staff steps with their action-log entries,
clear by hand only where the device cannot, races of a staff step with the device, and the
hostile classes of issue 22 against every alert route."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from chalicelib import wiring
from chalicelib.domain import roles
from tests.functional.conftest import Api
from tests.functional.test_fleet import alerts as sent_notices
from tests.functional.test_fleet import device_health, invoke, report, status, telemetry
from tests.functional.test_fleet import fleet as fleet  # the fixture
from tests.functional.test_table_access import touched_calls

SHELTER = "shelter-001"
ROBOT = "robot-001"
OPS = {"as_user": "ops-kim", "roles": ("operator",)}


@pytest.fixture(autouse=True)
def staff_clock(fleet: Any) -> None:
    """Staff steps on the same test clock as the devices (the list sorts by update time)."""
    from chalicelib import wiring

    wiring.alerts()._clock = fleet["clock"]


def call(api: Api, method: str, path: str, body: Any = None, **who: Any) -> Any:
    answer = api.call(method, path, body=body, **(who or OPS))
    return answer


def ok(api: Api, method: str, path: str, body: Any = None, **who: Any) -> dict[str, Any]:
    answer = call(api, method, path, body, **who)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def listed(api: Api, query: str = "") -> list[dict[str, Any]]:
    return list(ok(api, "GET", f"/v1/admin/alerts{query}")["alerts"])


def the_alert(api: Api, kind: str, query: str = "?status=all") -> dict[str, Any]:
    (found,) = [a for a in listed(api, query) if a["kind"] == kind]
    return ok(api, "GET", f"/v1/admin/alerts/{found['alert_id']}")


def events(alert: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["event"], e["by"]) for e in alert["timeline"]]


def actions(api: Api, target: str) -> list[dict[str, Any]]:
    body = ok(api, "GET", f"/v1/admin/actions?target={target}", as_user="boss", admin=True)
    return list(body["actions"])


def bad_air(clock: Any, pm10: float = 120.0, **step: float) -> None:
    at = clock.advance(**step) if step else clock.now
    assert invoke(report(SHELTER, "shelter_telemetry", telemetry(at, pm10=pm10))) == {
        "batchItemFailures": []
    }


def calm(clock: Any, minutes: int) -> None:
    for _ in range(minutes):
        invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.advance(minutes=1), pm10=40)))


def robot_status(clock: Any, pet: float, fault: str | None = None, **step: float) -> None:
    at = clock.advance(**step) if step else clock.now
    invoke(report(ROBOT, "robot_status", status(at, 0.1, pet, fault)))


# ---------------------------------------------------------------- air


def test_air_is_one_alert_raised_escalated_and_cleared_by_the_system(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    # GIVEN bad air: one alert, major, active, in the device's open alerts
    bad_air(clock)
    bad_air(clock)  # a replayed message
    alert = the_alert(api, "air", "?status=active")
    assert (alert["severity"], alert["status"], alert["acknowledged"]) == ("major", "active", False)
    assert (alert["device_id"], alert["device_type"], alert["district"]) == (
        SHELTER, "shelter", "naeoe-dong")  # fmt: skip
    assert events(alert) == [("raised", None)]
    devices = ok(api, "GET", "/v1/admin/devices")["devices"]
    mine = next(d for d in devices if d["device_id"] == SHELTER)
    assert [(a["kind"], a["alert_id"], a["severity"]) for a in mine["open_alerts"]] == [
        ("air", alert["alert_id"], "major")]  # fmt: skip
    # WHEN the air turns very bad within the episode, twice (and the message replayed)
    bad_air(clock, 200, minutes=1)
    bad_air(clock, 200)
    bad_air(clock, 210, minutes=1)
    # THEN the same alert is critical, with one escalation in its timeline
    again = ok(api, "GET", f"/v1/admin/alerts/{alert['alert_id']}")
    assert again["severity"] == "critical"
    assert events(again) == [("raised", None), ("escalated", None)]
    assert len(listed(api, "?status=all")) == 1
    # AND a bad reading again does not lower it
    bad_air(clock, 120, minutes=1)
    assert ok(api, "GET", f"/v1/admin/alerts/{alert['alert_id']}")["severity"] == "critical"
    # WHEN calm for 10 minutes, the system clears it
    calm(clock, 10)
    assert the_alert(api, "air")["status"] == "active"
    calm(clock, 1)
    cleared = the_alert(api, "air")
    assert (cleared["status"], cleared["cleared_at"] is not None) == ("cleared", True)
    assert events(cleared) == [("raised", None), ("escalated", None), ("cleared", None)]
    assert listed(api) == []  # nothing active
    assert [a["alert_id"] for a in listed(api, "?status=cleared")] == [alert["alert_id"]]
    devices = ok(api, "GET", "/v1/admin/devices")["devices"]
    assert next(d for d in devices if d["device_id"] == SHELTER)["open_alerts"] == []
    # AND every SNS notice carried the alert's id
    notices = sent_notices(fleet)
    assert [(n["event"], n["severity"]) for n in notices] == [
        ("opened", "major"), ("escalated", "critical"), ("cleared", "critical")]  # fmt: skip
    assert {n["alert_id"] for n in notices} == {alert["alert_id"]}
    assert len({n["notice_id"] for n in notices}) == 3
    # AND the next bad air is a new alert
    bad_air(clock, minutes=1)
    assert len(listed(api, "?status=all")) == 2


def test_an_older_message_neither_raises_nor_escalates(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    bad_air(clock, 120)
    older = clock.now - timedelta(seconds=30)
    invoke(report(SHELTER, "shelter_telemetry", telemetry(older, pm10=300)))  # late, very bad
    alert = the_alert(api, "air")
    assert (alert["severity"], events(alert)) == ("major", [("raised", None)])


def test_air_and_offline_clear_themselves(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    bad_air(clock)
    air = the_alert(api, "air")
    answer = call(api, "POST", f"/v1/admin/alerts/{air['alert_id']}/clear", {"note": "fixed"})
    assert (answer.status, answer.body["error"]["code"]) == (409, "clears_itself")
    clock.advance(minutes=6)
    assert device_health()["marked_offline"] == [SHELTER]
    offline = the_alert(api, "offline")
    assert (offline["severity"], offline["status"]) == ("major", "active")
    answer = call(api, "POST", f"/v1/admin/alerts/{offline['alert_id']}/clear", {"note": "x"})
    assert (answer.status, answer.body["error"]["code"]) == (409, "clears_itself")
    assert actions(api, f"alert:{offline['alert_id']}") == []  # a refusal records nothing
    # WHEN the shelter is heard again, the offline alert clears itself
    bad_air(clock, seconds=5)
    assert the_alert(api, "offline")["status"] == "cleared"
    assert device_health()["marked_offline"] == []
    assert len([a for a in listed(api, "?status=all") if a["kind"] == "offline"]) == 1


def _episode_events(order: list[tuple[datetime, float]]) -> None:
    invoke(*(report(SHELTER, "shelter_telemetry", telemetry(at, pm10=v)) for at, v in order))


def test_replayed_and_reordered_air_raises_and_clears_each_alert_once(api: Api, fleet: Any) -> None:
    """Whatever the order and repeats of delivery, each alert is raised once, escalated at
    most once and cleared at most once, and the SNS notices match the items."""
    clock = fleet["clock"]
    start = clock.now - timedelta(minutes=40)
    levels = [20, 120, 200, 130, 40, 40, 90] + [40] * 13  # bad, very bad, a relapse, calm
    readings = [(start + timedelta(minutes=i), float(v)) for i, v in enumerate(levels)]
    rng = random.Random(22)
    # neighbours swapped within groups of three, and an earlier message replayed after each
    for i in range(0, len(readings), 3):
        group = readings[i : i + 3]
        rng.shuffle(group)
        _episode_events([*group, rng.choice(readings[: i + 3])])
    _episode_events(readings)  # the whole sequence again
    items = [
        ok(api, "GET", f"/v1/admin/alerts/{a['alert_id']}") for a in listed(api, "?status=all")
    ]
    assert items, "bad air raised no alert"
    for item in items:
        kinds = [e["event"] for e in item["timeline"]]
        assert kinds.count("raised") == 1
        assert kinds.count("escalated") <= 1
        assert kinds.count("cleared") <= 1
        assert (item["status"] == "cleared") == ("cleared" in kinds)
    notices = sent_notices(fleet)
    assert len([n for n in notices if n["event"] == "opened"]) == len(items)
    assert len(notices) == len({n["notice_id"] for n in notices})  # none sent twice
    active = [a["alert_id"] for a in listed(api)]
    devices = ok(api, "GET", "/v1/admin/devices")["devices"]
    shown = next(d for d in devices if d["device_id"] == SHELTER)["open_alerts"]
    assert [a["alert_id"] for a in shown] == active


# ---------------------------------------------------------------- robots: by hand


def test_a_full_bin_cleared_by_hand_is_raised_again_while_still_full(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    robot_status(clock, 0.95)
    robot_status(clock, 0.97, seconds=20)
    first = the_alert(api, "bin_full")
    assert (first["severity"], first["device_type"]) == ("minor", "robot")
    # WHEN an operator clears it after emptying the bin by hand
    note = "빈 비움 (site visit)"
    done = ok(api, "POST", f"/v1/admin/alerts/{first['alert_id']}/clear", {"note": note})
    assert (done["status"], events(done)[-1]) == ("cleared", ("cleared", "ops-kim"))
    assert done["timeline"][-1]["note"] == note
    (logged,) = actions(api, f"alert:{first['alert_id']}")
    assert (logged["action"], logged["actor"], logged["roles"]) == (
        "alert.clear", "ops-kim", ["operator"])  # fmt: skip
    assert logged["detail"]["note"] == note
    again = call(api, "POST", f"/v1/admin/alerts/{first['alert_id']}/clear", {"note": note})
    assert (again.status, again.body["error"]["code"]) == (409, "already_cleared")
    assert len(actions(api, f"alert:{first['alert_id']}")) == 1
    # THEN the robot still reporting a full bin raises a new alert
    robot_status(clock, 0.97, seconds=20)
    alerts_now = listed(api, "?status=all&kind=bin_full")
    assert len(alerts_now) == 2
    second = next(a for a in alerts_now if a["status"] == "active")
    assert second["alert_id"] != first["alert_id"]
    # AND emptied, the robot clears the new one itself
    robot_status(clock, 0.0, seconds=20)
    assert ok(api, "GET", f"/v1/admin/alerts/{second['alert_id']}")["status"] == "cleared"
    assert [(n["event"]) for n in sent_notices(fleet)] == ["opened", "opened", "cleared"]


def test_a_fault_the_device_cleared_first_cannot_be_cleared_by_hand(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    robot_status(clock, 0.1, "E42")
    fault = the_alert(api, "fault")
    assert fault["severity"] == "major"
    robot_status(clock, 0.1, None, seconds=20)
    answer = call(api, "POST", f"/v1/admin/alerts/{fault['alert_id']}/clear", {"note": "fixed"})
    assert (answer.status, answer.body["error"]["code"]) == (409, "already_cleared")
    assert events(the_alert(api, "fault")) == [("raised", None), ("cleared", None)]


def test_a_clear_by_hand_and_the_device_clearing_land_once(api: Api, fleet: Any) -> None:
    """The operator clears a fault by hand, then the robot's report that the fault is gone
    arrives: the episode is already closed, nothing is cleared twice."""
    clock = fleet["clock"]
    robot_status(clock, 0.1, "E42")
    fault = the_alert(api, "fault")
    ok(api, "POST", f"/v1/admin/alerts/{fault['alert_id']}/clear", {"note": "reset on site"})
    robot_status(clock, 0.1, None, seconds=20)
    assert events(the_alert(api, "fault")) == [("raised", None), ("cleared", "ops-kim")]
    assert [n["event"] for n in sent_notices(fleet)] == ["opened"]


# ---------------------------------------------------------------- staff steps


def test_acknowledge_once_with_a_note_recorded_in_the_action_log(api: Api, fleet: Any) -> None:
    bad_air(fleet["clock"])
    alert = the_alert(api, "air")
    path = f"/v1/admin/alerts/{alert['alert_id']}/acknowledge"
    done = ok(api, "POST", path, {"note": "환기 확인 중"})
    assert (done["acknowledged"], done["acknowledged_by"]) == (True, "ops-kim")
    assert done["acknowledged_at"] is not None
    assert done["timeline"][-1] == {
        "at": done["acknowledged_at"], "event": "acknowledged", "by": "ops-kim",
        "note": "환기 확인 중"}  # fmt: skip
    # a repeat (by anyone) changes nothing and records nothing
    repeat = ok(api, "POST", path, None, as_user="ops-lee", roles=("operator",))
    assert repeat == done
    (logged,) = actions(api, f"alert:{alert['alert_id']}")
    assert (logged["action"], logged["detail"]["note"]) == ("alert.acknowledge", "환기 확인 중")
    # the list filters by acknowledgement
    assert [a["alert_id"] for a in listed(api, "?acknowledged=true")] == [alert["alert_id"]]
    assert listed(api, "?acknowledged=false") == []


def test_assign_and_comment(api: Api, fleet: Any) -> None:
    bad_air(fleet["clock"])
    alert_id = the_alert(api, "air")["alert_id"]
    base = f"/v1/admin/alerts/{alert_id}"
    assert ok(api, "POST", f"{base}/assign", {"assignee": "ops-park"})["assignee"] == "ops-park"
    same = ok(api, "POST", f"{base}/assign", {"assignee": "ops-park"})
    assert [e for e in events(same) if e[0] == "assigned"] == [("assigned", "ops-kim")]
    text = "필터 교체 필요\n내일 오전 방문"
    fleet["clock"].advance(seconds=1)
    done = ok(api, "POST", f"{base}/comments", {"text": text})
    assert (done["timeline"][-1]["event"], done["timeline"][-1]["note"]) == ("commented", text)
    fleet["clock"].advance(seconds=1)
    unassigned = ok(api, "POST", f"{base}/assign", {"assignee": None})
    assert unassigned["assignee"] is None
    logged = [a["action"] for a in actions(api, f"alert:{alert_id}")]
    assert logged == ["alert.assign", "alert.comment", "alert.assign"]  # newest first
    # the stored alert says the same as the answers
    stored = ok(api, "GET", base)
    assert [e[0] for e in events(stored)] == ["raised", "assigned", "commented", "assigned"]


def test_a_cleared_alert_may_still_be_acknowledged_and_commented(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    robot_status(clock, 0.1, "E42")
    robot_status(clock, 0.1, None, seconds=20)
    fault = the_alert(api, "fault")
    base = f"/v1/admin/alerts/{fault['alert_id']}"
    assert ok(api, "POST", f"{base}/acknowledge", {})["acknowledged"] is True
    assert ok(api, "POST", f"{base}/comments", {"text": "post-incident: cable"})["status"] == (
        "cleared"
    )


# ---------------------------------------------------------------- races


def test_acknowledge_while_the_device_clears_both_land(api: Api, fleet: Any) -> None:
    """The acknowledgement reads the alert active, the robot's clearing lands, then the
    acknowledgement writes: both are in the alert, nothing is lost."""
    clock = fleet["clock"]
    robot_status(clock, 0.1, "E42")
    fault = the_alert(api, "fault")
    with after_the_first_read(lambda: robot_status(clock, 0.1, None, seconds=20)) as interleaved:
        done = ok(
            api, "POST", f"/v1/admin/alerts/{fault['alert_id']}/acknowledge", {"note": "on it"}
        )
    assert interleaved == [1]
    assert done["acknowledged"] is True
    stored = ok(api, "GET", f"/v1/admin/alerts/{fault['alert_id']}")
    assert (stored["status"], stored["acknowledged"]) == ("cleared", True)
    assert sorted(events(stored)) == sorted(
        [("raised", None), ("cleared", None), ("acknowledged", "ops-kim")])  # fmt: skip
    assert len(actions(api, f"alert:{fault['alert_id']}")) == 1


def test_a_clear_by_hand_racing_the_device_clearing_lands_once(api: Api, fleet: Any) -> None:
    """The operator's clear reads the fault active, the robot clears it meanwhile: the
    operator's write finds it cleared (409 `already_cleared`), one clearing, no action."""
    clock = fleet["clock"]
    robot_status(clock, 0.1, "E42")
    fault = the_alert(api, "fault")["alert_id"]
    with after_the_first_read(lambda: robot_status(clock, 0.1, None, seconds=20)):
        answer = call(api, "POST", f"/v1/admin/alerts/{fault}/clear", {"note": "fixed"})
    assert (answer.status, answer.body["error"]["code"]) == (409, "already_cleared")
    assert events(ok(api, "GET", f"/v1/admin/alerts/{fault}")) == [
        ("raised", None), ("cleared", None)]  # fmt: skip
    assert actions(api, f"alert:{fault}") == []


@contextlib.contextmanager
def after_the_first_read(meanwhile: Any) -> Iterator[list[int]]:
    """A staff step's first read of the alert is followed by `meanwhile` (another writer),
    before the step writes: a deterministic interleaving of the two."""
    from chalicelib import wiring

    store = wiring.alerts()._store
    real_get = store.get
    ran: list[int] = []

    def get_then_meanwhile(alert_id: str) -> Any:
        read = real_get(alert_id)
        if not ran:
            ran.append(1)
            meanwhile()
        return read

    store.get = get_then_meanwhile  # type: ignore[method-assign]
    try:
        yield ran
    finally:
        store.get = real_get  # type: ignore[method-assign]


@pytest.fixture
def one_conflict() -> Iterator[list[str]]:
    """The next TransactWriteItems is cancelled once for a conflicting transaction (as
    DynamoDB does when two transactions touch one item at once); later ones go through."""
    original = botocore.client.BaseClient._make_api_call
    hit: list[str] = []

    def conflicting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems" and not hit:
            hit.append(operation)
            reasons = [{"Code": "TransactionConflict"}] + [
                {"Code": "None"} for _ in params["TransactItems"][1:]
            ]
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                operation,
            )
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = conflicting  # type: ignore[method-assign]
    try:
        yield hit
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def test_a_staff_step_that_meets_a_conflicting_transaction_is_retried(
    api: Api, fleet: Any, request: pytest.FixtureRequest
) -> None:
    robot_status(fleet["clock"], 0.1, "E42")
    fault = the_alert(api, "fault")
    hit = request.getfixturevalue("one_conflict")
    done = ok(api, "POST", f"/v1/admin/alerts/{fault['alert_id']}/acknowledge", {})
    assert hit == ["TransactWriteItems"]
    assert done["acknowledged"] is True
    assert len(actions(api, f"alert:{fault['alert_id']}")) == 1


def test_the_device_clearing_that_meets_a_conflicting_transaction_is_retried(
    api: Api, fleet: Any, request: pytest.FixtureRequest
) -> None:
    clock = fleet["clock"]
    robot_status(clock, 0.1, "E42")
    hit = request.getfixturevalue("one_conflict")
    robot_status(clock, 0.1, None, seconds=20)
    assert hit == ["TransactWriteItems"]
    assert the_alert(api, "fault")["status"] == "cleared"
    assert [n["event"] for n in sent_notices(fleet)] == ["opened", "cleared"]


def test_two_operators_acknowledging_at_once_record_one_acknowledgement(
    api: Api, fleet: Any
) -> None:
    """Both read the alert unacknowledged; the second write's condition fails, it reads
    again and answers the alert as acknowledged by the first, recording nothing."""
    robot_status(fleet["clock"], 0.95)
    alert_id = the_alert(api, "bin_full")["alert_id"]
    path = f"/v1/admin/alerts/{alert_id}/acknowledge"
    other = {"as_user": "ops-lee", "roles": ("operator",)}
    with after_the_first_read(
        lambda: ok(api, "POST", path, {"note": "mine"}, **other)
    ) as done_once:
        done = ok(api, "POST", path, {"note": "no, mine"})
    assert done_once == [1]
    assert (done["acknowledged_by"], done["timeline"][-1]["note"]) == ("ops-lee", "mine")
    assert [a["actor"] for a in actions(api, f"alert:{alert_id}")] == ["ops-lee"]


# ---------------------------------------------------------------- the list


def test_the_list_filters_and_pages_newest_update_first(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    bad_air(clock, 200)  # shelter-001: air critical
    robot_status(clock, 0.95, "E7", seconds=1)  # robot-001: bin_full minor, fault major
    clock.advance(minutes=6)
    invoke(report("robot-001", "robot_status", status(clock.now, 0.1, 0.95, "E7")))
    invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.now, pm10=200)))
    device_health()  # shelter-002, robot-002 never reported: no alert (never heard)
    everything = listed(api, "?status=all")
    assert sorted(a["kind"] for a in everything) == ["air", "bin_full", "fault"]
    stamps = [a["updated_at"] for a in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert [a["kind"] for a in listed(api, "?kind=fault")] == ["fault"]
    assert [a["kind"] for a in listed(api, "?severity=critical")] == ["air"]
    assert sorted(a["kind"] for a in listed(api, "?district=naeoe-dong")) == [
        "air", "bin_full", "fault"]  # fmt: skip
    assert listed(api, "?district=saman-dong") == []
    assert "timeline" not in everything[0]
    # acknowledging moves an alert to the top
    last = everything[-1]["alert_id"]
    clock.advance(seconds=1)
    ok(api, "POST", f"/v1/admin/alerts/{last}/acknowledge", {})
    assert listed(api)[0]["alert_id"] == last
    since = listed(api)[0]["updated_at"]
    assert [a["alert_id"] for a in listed(api, f"?updated_since={since.replace('+', '%2B')}")] == [
        last]  # fmt: skip
    # pages of one, with a cursor, give each alert once
    seen: list[str] = []
    cursor = None
    while True:
        query = "?status=all&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = ok(api, "GET", f"/v1/admin/alerts{query}")
        seen += [a["alert_id"] for a in page["alerts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["alert_id"] for a in listed(api, "?status=all")]
    # a sparse filter over pages of one alert each
    page = ok(api, "GET", "/v1/admin/alerts?status=all&kind=air&limit=1")
    assert [a["kind"] for a in page["alerts"]] == ["air"]


def test_the_list_is_a_query_never_a_scan(api: Api, fleet: Any) -> None:
    bad_air(fleet["clock"])
    for query in ("", "?status=cleared", "?status=all&kind=air&acknowledged=false"):
        with touched_calls() as calls:
            listed(api, query)
        assert calls == {"Query": 1}, (query, calls)


@pytest.mark.parametrize(
    "query",
    ["?status=open", "?status=ACTIVE", "?kind=smoke", "?severity=high", "?acknowledged=yes",
     "?limit=0", "?limit=201", "?limit=-1", "?updated_since=yesterday",
     "?updated_since=2026-12-01T09:00:00", "?cursor=%%%", "?cursor=eyJ1IjoxfQ",
     "?status=active&status=cleared", "?kind=air%00", f"?cursor={'a' * 1100}"],
)  # fmt: skip
def test_odd_list_queries_are_a_400(api: Api, fleet: Any, query: str) -> None:
    answer = call(api, "GET", f"/v1/admin/alerts{query}")
    assert answer.status == 400, (query, answer.body)


def test_a_forged_cursor_is_a_400(api: Api, fleet: Any) -> None:
    import base64
    import json

    for forged in (
        {"u": "2026-12-01T00:00:00.000000Z#x.air.20261201T000000Z000000", "a": "y"},
        {"u": "not a time#shelter-001.air.20261201T000000Z000000",
         "a": "shelter-001.air.20261201T000000Z000000"},
        {"u": "2026-12-01T00:00:00.000000Z#a", "a": "a", "feed": "other-city#active"},
    ):  # fmt: skip
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        answer = call(api, "GET", f"/v1/admin/alerts?cursor={cursor}")
        assert (answer.status, answer.body["error"]["code"]) == (400, "invalid_cursor")


def test_an_unknown_district_is_a_422(api: Api, fleet: Any) -> None:
    answer = call(api, "GET", "/v1/admin/alerts?district=atlantis")
    assert (answer.status, answer.body["error"]["code"]) == (422, "unknown_district")


# ---------------------------------------------------------------- hostile input


ROUTES = [
    ("GET", "/v1/admin/alerts", None),
    ("GET", "/v1/admin/alerts/{id}", None),
    ("POST", "/v1/admin/alerts/{id}/acknowledge", {"note": "x"}),
    ("POST", "/v1/admin/alerts/{id}/assign", {"assignee": "ops-park"}),
    ("POST", "/v1/admin/alerts/{id}/comments", {"text": "x"}),
    ("POST", "/v1/admin/alerts/{id}/clear", {"note": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize(
    "who",
    [None, ("citizen",), ("finance",), ("support",), ("operator",), ("admin",),
     ("finance", "support"), ("Operator",), ("operator ",), ("citizen,operator",)],
)  # fmt: skip
def test_every_alert_route_answers_only_operators_and_admins(
    api: Api, fleet: Any, method: str, path: str, body: Any, who: tuple[str, ...] | None
) -> None:
    robot_status(fleet["clock"], 0.95)
    alert_id = the_alert(api, "bin_full", "?status=all")["alert_id"]
    target = path.replace("{id}", alert_id)
    if who is None:
        answer = api.call(method, target, body=body)
        assert answer.status == 401, answer.body
        return
    answer = api.call(method, target, body=body, as_user="staff-9", roles=who)
    if set(who) & {"operator", "admin"}:
        assert answer.status == 200, answer.body
        return
    assert answer.status == 403, answer.body
    assert answer.body["error"]["code"] == "forbidden_role"
    assert answer.body["error"]["details"] == [{"roles": list(roles.roles_for(roles.Power.ALERTS))}]
    stored = ok(api, "GET", f"/v1/admin/alerts/{alert_id}")
    assert events(stored) == [("raised", None)]  # a refused call changed nothing


@pytest.mark.parametrize(
    "alert_id",
    ["nope", "shelter-001.air.20261201T000000Z000000", "shelter-001.smoke.20261201T000000Z000000",
     "..%2F..%2Fetc", "%F0%9F%92%A9", "a" * 300, "robot-001.fault.2026", "x%0Ay"],
)  # fmt: skip
@pytest.mark.parametrize(("method", "path", "body"), ROUTES[1:], ids=[p for _, p, _ in ROUTES[1:]])
def test_an_unknown_or_odd_alert_id_is_a_404(
    api: Api, fleet: Any, alert_id: str, method: str, path: str, body: Any
) -> None:
    answer = call(api, method, path.replace("{id}", alert_id), body)
    assert answer.status == 404, (alert_id, answer.body)
    assert answer.body["error"]["code"] in ("alert_not_found", "not_found")


@pytest.mark.parametrize(
    ("step", "body", "status", "code"),
    [
        ("comments", {"text": ""}, 422, "validation_failed"),
        ("comments", {"text": "   \n "}, 422, "validation_failed"),
        ("comments", {"text": "x" * 501}, 422, "validation_failed"),
        ("comments", {"text": "가" * 2001}, 422, "validation_failed"),
        ("comments", {"text": "bell\x07"}, 422, "invalid_characters"),
        ("comments", {"text": "nul\x00"}, 422, "invalid_characters"),
        ("comments", {"text": "bidi \u202egnp.exe"}, 422, "invalid_characters"),
        ("comments", {"text": "zero\u200bwidth"}, 422, "invalid_characters"),
        ("comments", {"text": "esc \x1b[31m"}, 422, "invalid_characters"),
        ("comments", {"text": 5}, 400, "bad_request"),
        ("comments", {"text": None}, 400, "bad_request"),
        ("comments", {}, 400, "bad_request"),
        ("comments", {"text": "x", "by": "admin"}, 400, "bad_request"),
        ("clear", {}, 400, "bad_request"),
        ("clear", {"note": ""}, 422, "validation_failed"),
        ("clear", {"note": "x" * 501}, 422, "validation_failed"),
        ("clear", {"note": "line\u2028sep"}, 422, "invalid_characters"),
        ("acknowledge", {"note": "x" * 501}, 422, "validation_failed"),
        ("acknowledge", {"note": "\x7f"}, 422, "invalid_characters"),
        ("acknowledge", {"note": ["x"]}, 400, "bad_request"),
        ("acknowledge", {"acknowledged_by": "someone-else"}, 400, "bad_request"),
        ("assign", {}, 400, "bad_request"),
        ("assign", {"assignee": 7}, 400, "bad_request"),
        ("assign", {"assignee": ""}, 422, "validation_failed"),
        ("assign", {"assignee": "ops park"}, 422, "validation_failed"),
        ("assign", {"assignee": "ops\npark"}, 422, "validation_failed"),
        ("assign", {"assignee": "a" * 129}, 422, "validation_failed"),
        ("assign", {"assignee": "운영자"}, 422, "validation_failed"),
    ],
)
def test_odd_bodies_are_refused_and_change_nothing(
    api: Api, fleet: Any, step: str, body: Any, status: int, code: str
) -> None:
    robot_status(fleet["clock"], 0.1, "E42")
    alert_id = the_alert(api, "fault")["alert_id"]
    answer = call(api, "POST", f"/v1/admin/alerts/{alert_id}/{step}", body)
    assert (answer.status, answer.body["error"]["code"]) == (status, code), answer.body
    assert events(ok(api, "GET", f"/v1/admin/alerts/{alert_id}")) == [("raised", None)]
    assert actions(api, f"alert:{alert_id}") == []


def test_malformed_json_and_a_huge_body_are_refused(api: Api, fleet: Any) -> None:
    robot_status(fleet["clock"], 0.1, "E42")
    alert_id = the_alert(api, "fault")["alert_id"]
    path = f"/v1/admin/alerts/{alert_id}/comments"
    bad = api.call("POST", path, raw=b"{not json", **OPS)
    assert bad.status == 400
    huge = api.call("POST", path, raw=b'{"text": "' + b"x" * 300_000 + b'"}', **OPS)
    assert huge.status in (400, 413, 422)
    assert api.call("POST", path, raw=b"[]", **OPS).status == 400


def test_a_comment_of_500_characters_fits_and_the_timeline_is_bounded(api: Api, fleet: Any) -> None:
    from chalicelib.domain.alerts import MAX_STAFF_ENTRIES

    robot_status(fleet["clock"], 0.1, "E42")
    alert_id = the_alert(api, "fault")["alert_id"]
    path = f"/v1/admin/alerts/{alert_id}/comments"
    text = "가" * 500
    assert ok(api, "POST", path, {"text": text})["timeline"][-1]["note"] == text
    for n in range(MAX_STAFF_ENTRIES - 1):
        ok(api, "POST", path, {"text": f"comment {n}"})
    full = call(api, "POST", path, {"text": "one more"})
    assert (full.status, full.body["error"]["code"]) == (409, "timeline_full")
    # an acknowledgement still fits
    assert ok(api, "POST", f"/v1/admin/alerts/{alert_id}/acknowledge", {})["acknowledged"]


# ---------------------------------------------------------------- costs


def test_requests_per_operation(api: Api, fleet: Any) -> None:
    """What each alert operation costs in DynamoDB requests (bench/RESULTS.md): an alert
    transition turns the episode's one UpdateItem into one TransactWriteItems (one more
    item), and a staff step is one GetItem and one TransactWriteItems."""
    clock = fleet["clock"]

    def counted(do: Any) -> dict[str, int]:
        with touched_calls() as calls:
            do()
        return dict(calls)

    assert counted(lambda: bad_air(clock)) == {"UpdateItem": 3, "TransactWriteItems": 1}
    assert counted(lambda: bad_air(clock, 200, minutes=1)) == {
        "UpdateItem": 3, "TransactWriteItems": 1}  # fmt: skip
    assert counted(lambda: bad_air(clock, 200, minutes=1)) == {"UpdateItem": 2}  # steady
    alert_id = the_alert(api, "air")["alert_id"]
    path = f"/v1/admin/alerts/{alert_id}"
    assert counted(lambda: ok(api, "GET", "/v1/admin/alerts")) == {"Query": 1}
    assert counted(lambda: ok(api, "GET", path)) == {"GetItem": 1}
    step = {"GetItem": 1, "TransactWriteItems": 1}
    assert counted(lambda: ok(api, "POST", f"{path}/acknowledge", {"note": "n"})) == step
    assert counted(lambda: ok(api, "POST", f"{path}/acknowledge", {})) == {"GetItem": 1}
    assert counted(lambda: ok(api, "POST", f"{path}/assign", {"assignee": "p"})) == step
    assert counted(lambda: ok(api, "POST", f"{path}/comments", {"text": "t"})) == step
    assert counted(lambda: ok(api, "GET", "/v1/admin/devices")) == {"Query": 2}
    calm(clock, 10)
    assert counted(lambda: calm(clock, 1)) == {"UpdateItem": 3, "TransactWriteItems": 1}
    robot_status(clock, 0.1, "E1")
    fault = the_alert(api, "fault")["alert_id"]
    assert (
        counted(lambda: ok(api, "POST", f"/v1/admin/alerts/{fault}/clear", {"note": "n"})) == step
    )
    clock.advance(minutes=6)
    # the fleet's 2 Queries, the expired purifier overrides' 1 (none here), per device offline
    # 1 TransactWriteItems (state + alert) and 1 UpdateItem (the delivered outbox)
    assert counted(device_health) == {"Query": 3, "TransactWriteItems": 2, "UpdateItem": 2}


def test_concurrent_steps_and_the_device_lose_no_update(api: Api, fleet: Any) -> None:
    """Threads at once: three operators acknowledging, three commenting, the robot clearing
    the fault. One acknowledgement, every comment, one clearing, one action per change."""
    import threading

    clock = fleet["clock"]
    robot_status(clock, 0.1, "E42")
    alert_id = the_alert(api, "fault")["alert_id"]
    base = f"/v1/admin/alerts/{alert_id}"
    answers: list[int] = []

    def step(method: str, path: str, body: Any, who: str) -> None:
        answer = api.call(method, path, body=body, as_user=who, roles=("operator",))
        answers.append(answer.status)

    threads = [
        *(threading.Thread(target=step, args=("POST", f"{base}/acknowledge", {}, f"ops-{n}"))
          for n in range(3)),
        *(threading.Thread(target=step, args=("POST", f"{base}/comments", {"text": f"c{n}"},
                                              f"ops-{n}")) for n in range(3)),
        threading.Thread(target=lambda: robot_status(clock, 0.1, None, seconds=20)),
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [200] * 6
    stored = ok(api, "GET", base)
    kinds = [e["event"] for e in stored["timeline"]]
    assert sorted(kinds) == sorted(["raised", "acknowledged", "cleared"] + ["commented"] * 3)
    assert sorted(e["note"] for e in stored["timeline"] if e["event"] == "commented") == [
        "c0", "c1", "c2"]  # fmt: skip
    assert (stored["status"], stored["acknowledged"]) == ("cleared", True)
    logged = actions(api, f"alert:{alert_id}")
    assert sorted(a["action"] for a in logged) == ["alert.acknowledge"] + ["alert.comment"] * 3
    assert [a["actor"] for a in logged if a["action"] == "alert.acknowledge"] == [
        stored["acknowledged_by"]]  # fmt: skip


def test_an_alert_opened_is_counted_by_its_kind_once(
    api: Api, fleet: Any, monkeypatch: Any, capsys: Any
) -> None:
    # GIVEN metrics on (EMF documents in the function's log)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    clock = fleet["clock"]
    capsys.readouterr()
    # WHEN bad air raises an alert, the message is replayed and the air turns worse
    bad_air(clock)
    bad_air(clock)
    bad_air(clock, 200, minutes=1)
    # THEN the dashboard's "alerts opened, by kind" counts one air alert
    documents = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    opened = [d.get(wiring.alert_metric("air")) for d in documents]
    assert [o for o in opened if o is not None] == [[1.0]]
