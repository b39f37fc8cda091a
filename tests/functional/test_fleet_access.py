"""The fleet's functions touch only the tables chalicelib/table_access.py declares for them,
and what a telemetry message and a city's shelter list cost in DynamoDB requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.functional.conftest import Api
from tests.functional.test_fleet import device_health, invoke, report, status, telemetry
from tests.functional.test_fleet import fleet as fleet  # the fixture: alerts topic, clock
from tests.functional.test_table_access import _declared, touched, touched_calls


def test_the_report_handler_touches_only_its_declared_tables(api: Api, fleet: Any) -> None:
    """Including the alerts an episode raises and clears in its transaction."""
    now = fleet["clock"].now
    with touched() as tables:
        invoke(
            report("shelter-001", "shelter_telemetry", telemetry(now, pm10=200.0)),
            report("robot-001", "robot_status", status(now, 0.95, 0.1, "E1")),
            report("robot-001", "robot_status", status(now + timedelta(seconds=1), 0.1, 0.1)),
            report("shelter-999", "shelter_telemetry", telemetry(now)),
            report("shelter-001", "shelter_telemetry", {"pm10": -1}),
        )
    assert tables == _declared("handle_device_reports")


def test_the_health_job_touches_only_its_declared_tables(api: Api, fleet: Any) -> None:
    """Including the offline alerts it raises and a purifier override it ends (its action)."""
    invoke(report("robot-001", "robot_status", status(fleet["clock"].now, 0.1, 0.1)))
    body = {"mode": "off", "minutes": 1}
    answer = api.call(
        "PUT",
        "/v1/admin/shelters/shelter-001/purifier",
        as_user="ops",
        roles=("operator",),
        body=body,
    )
    assert answer.status == 200, answer.body
    fleet["clock"].advance(minutes=10)
    with touched() as tables:
        report_of_job = device_health()
    assert report_of_job["marked_offline"] == ["robot-001"]
    assert report_of_job["overrides_ended"] == ["shelter-001"]
    assert tables == _declared("device_health")


def test_a_telemetry_message_costs_two_requests(api: Api) -> None:
    now = datetime.now(UTC)
    invoke(report("shelter-001", "shelter_telemetry", telemetry(now - timedelta(minutes=1))))
    with touched_calls() as calls:
        invoke(report("shelter-001", "shelter_telemetry", telemetry(now)))
    # the state (conditioned on ts, returning the new state) and the hour's slot
    assert calls == {"UpdateItem": 2}


def test_the_city_shelter_list_is_one_query(api: Api, aws: Any) -> None:
    with touched_calls() as calls:
        assert api.call("GET", "/v1/shelters").status == 200
    assert calls == {"Query": 1}
