"""Shelters and robots through the real device-reports queue handler and routes, on moto:
ordering, plausibility, alerts once per episode, the purifier shadow, bins, the health job."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.functional.conftest import REGION, Api, sqs_record

SHELTER = "shelter-001"
ROBOT = "robot-001"


class Clock:
    """The service's clock, moved by the test (hysteresis and silence are about time)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def fleet(aws: dict[str, Any], prebuilt: Any) -> Iterator[dict[str, Any]]:
    """The alerts topic with a queue subscribed (what operators receive), and the fleet
    service on a test clock. The topic, queue and things are built once, then put back from
    moto's state (`prebuilt`)."""
    import os

    from chalicelib import wiring

    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)

    def build() -> tuple[str, str]:
        topic = sns.create_topic(Name="gimhae-dev-alerts")["TopicArn"]
        url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        iot = boto3.client("iot", region_name=REGION)
        for device in aws["fleet"]["devices"]:  # shadows belong to things
            iot.create_thing(thingName=device["device_id"])
        return topic, url

    topic, url = prebuilt("the fleet's alerts topic and things", build)
    os.environ["ALERTS_TOPIC_ARN"] = topic
    clock = Clock()
    service = wiring.fleet()
    service._clock = clock  # the one seam: time
    yield {"clock": clock, "sqs": sqs, "inbox": url}
    os.environ.pop("ALERTS_TOPIC_ARN", None)


def alerts(fleet: dict[str, Any]) -> list[dict[str, Any]]:
    sqs = fleet["sqs"]
    found = []
    while True:
        got = sqs.receive_message(QueueUrl=fleet["inbox"], MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return found
        for m in messages:
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=fleet["inbox"], ReceiptHandle=m["ReceiptHandle"])


def report(
    device_id: str, channel: str, payload: dict[str, Any] | bytes, message_id: str = "m"
) -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    body = {
        "payload": base64.b64encode(raw).decode(),
        "device_id": device_id,
        "channel": channel,
        "received_at": received_ms(),
    }
    return sqs_record(body, message_id)


def received_ms(at: datetime | None = None) -> int:
    """IoT Core's receipt stamp: by default now on the service's (test) clock."""
    from chalicelib import wiring

    return int((at or wiring.fleet().now()).timestamp() * 1000)


def invoke(*records: dict[str, Any]) -> dict[str, Any]:
    from app import handle_device_reports
    from infra.local.lambda_runtime import LambdaContext

    fixed = [dict(r, messageId=f"{r['messageId']}-{i}") for i, r in enumerate(records)]
    result: dict[str, Any] = handle_device_reports({"Records": fixed}, LambdaContext("reports"))
    return result


def telemetry(at: datetime, pm10: float = 20.0, pm25: float = 10.0, **more: Any) -> dict[str, Any]:
    return {"ts": at.isoformat(), "pm10": pm10, "pm25": pm25, **more}


def desired_purifier(device_id: str) -> str | None:
    """The shelter's shadow as the IoT data plane holds it."""
    client = boto3.client("iot-data", region_name=REGION)
    document = json.loads(client.get_thing_shadow(thingName=device_id)["payload"].read())
    return document.get("state", {}).get("desired", {}).get("purifier")


def shelter(api: Api, device_id: str = SHELTER) -> dict[str, Any]:
    response = api.call("GET", f"/v1/shelters/{device_id}")
    assert response.status == 200, response.body
    return dict(response.body)


def robot(api: Api, device_id: str = ROBOT) -> dict[str, Any]:
    response = api.call("GET", f"/v1/robots/{device_id}")
    assert response.status == 200, response.body
    return dict(response.body)


# ---------------------------------------------------------------- telemetry and state


def test_a_registered_shelter_is_listed_offline_before_it_reports(api: Api, fleet: Any) -> None:
    body = api.call("GET", "/v1/shelters").body
    ids = [s["device_id"] for s in body["shelters"]]
    assert ids == ["shelter-001", "shelter-002"]
    assert body["shelters"][0]["status"] == "offline"
    assert body["shelters"][0]["location"] == {"lat": 35.2415, "lon": 128.8716}


def test_telemetry_shows_in_the_shelter_state(api: Api, fleet: Any) -> None:
    now = fleet["clock"].now
    result = invoke(report(SHELTER, "shelter_telemetry", telemetry(
        now, pm10=42.0, pm25=18.5, chargers={"total": 4, "in_use": 1}, occupancy=3)))  # fmt: skip
    assert result == {"batchItemFailures": []}
    state = shelter(api)
    assert state["status"] == "online"
    assert state["air"]["pm10"] == 42.0
    assert state["air"]["pm25"] == 18.5
    assert state["air"]["grade"] == "moderate"
    assert state["chargers"] == {"total": 4, "in_use": 1}
    assert state["occupancy"] == 3


def test_an_older_message_never_overwrites_a_newer_state(api: Api, fleet: Any) -> None:
    now = fleet["clock"].now
    invoke(report(SHELTER, "shelter_telemetry", telemetry(now, pm10=50)))
    invoke(report(SHELTER, "shelter_telemetry", telemetry(now - timedelta(seconds=30), pm10=10)))
    invoke(report(SHELTER, "shelter_telemetry", telemetry(now, pm10=11)))  # same ts: a replay
    assert shelter(api)["air"]["pm10"] == 50


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"pm10": -5.0}, "implausible_reading"),
        ({"humidity": 130.0}, "implausible_reading"),
        ({"chargers": {"total": 2, "in_use": 3}}, "implausible_reading"),
        ({"pm10": True}, "invalid_payload"),
        ({"pm10": "12"}, "invalid_payload"),
        ({"ts": "2099-01-01T00:00:00+09:00"}, "ts_in_future"),
        ({"ts": "yesterday"}, "invalid_payload"),
    ],
)
def test_an_impossible_reading_is_quarantined_and_changes_nothing(
    api: Api, fleet: Any, payload: dict[str, Any], reason: str
) -> None:
    now = fleet["clock"].now
    invoke(report(SHELTER, "shelter_telemetry", telemetry(now - timedelta(seconds=60), pm10=42)))
    bad = {**telemetry(now), **payload}
    result = invoke(report(SHELTER, "shelter_telemetry", bad))
    assert result == {"batchItemFailures": []}
    assert shelter(api)["air"]["pm10"] == 42
    admin = api.call("GET", "/v1/admin/quarantine?source=fleet", as_user="ops", admin=True)
    assert [q["reason"] for q in admin.body["items"]] == [reason]
    devices = api.call("GET", "/v1/admin/devices", as_user="ops", admin=True).body["devices"]
    assert {d["device_id"]: d["quarantined_messages"] for d in devices}[SHELTER] == 1


def test_malformed_and_unknown_messages_never_fail_the_batch(api: Api, fleet: Any) -> None:
    now = fleet["clock"].now
    result = invoke(
        report(SHELTER, "shelter_telemetry", b"{not json"),
        report("shelter-999", "shelter_telemetry", telemetry(now)),
        report(ROBOT, "shelter_telemetry", telemetry(now)),  # a robot is not a shelter
        sqs_record("not an envelope", "x"),
        report(SHELTER, "shelter_telemetry", telemetry(now, pm10=33)),
    )
    assert result == {"batchItemFailures": []}
    admin = api.call("GET", "/v1/admin/quarantine?source=fleet", as_user="ops", admin=True)
    assert sorted(q["reason"] for q in admin.body["items"]) == [
        "invalid_envelope", "malformed_json", "unknown_device", "unknown_device"]  # fmt: skip
    assert shelter(api)["air"]["pm10"] == 33


def test_air_history_answers_hourly_means_with_their_grade(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    start = clock.now.replace(minute=0, second=0) - timedelta(hours=2)
    clock.now = start + timedelta(hours=2, minutes=30)
    for minute, pm10 in ((0, 20), (1, 40), (60, 100), (61, 120)):
        at = start + timedelta(minutes=minute)
        invoke(report(SHELTER, "shelter_telemetry", telemetry(at, pm10=pm10, pm25=10)))
    # a replay of a stored minute is not counted twice
    invoke(report(SHELTER, "shelter_telemetry", telemetry(start, pm10=20, pm25=10)))
    body = api.call("GET", f"/v1/shelters/{SHELTER}/air?hours=3").body
    assert [(h["pm10"], h["grade"], h["samples"]) for h in body["air"]] == [
        (30.0, "good", 2),
        (110.0, "bad", 2),
    ]
    assert api.call("GET", f"/v1/shelters/{SHELTER}/air?hours=0").status == 400
    assert api.call("GET", f"/v1/shelters/{SHELTER}/air?hours=169").status == 400
    assert api.call("GET", f"/v1/shelters/{SHELTER}/air?hours=abc").status == 400


def test_unknown_ids_are_404_and_bad_districts_422(api: Api, fleet: Any) -> None:
    for path in ("/v1/shelters/nope", "/v1/robots/shelter-001", "/v1/shelters/robot-001",
                 "/v1/shelters/%F0%9F%92%A9", f"/v1/shelters/{'x' * 3000}",
                 "/v1/shelters/nope/air"):  # fmt: skip
        response = api.call("GET", path)
        assert response.status == 404, path
        assert response.body["error"]["code"] in ("shelter_not_found", "robot_not_found")
    response = api.call("GET", "/v1/shelters?district=atlantis")
    assert (response.status, response.body["error"]["code"]) == (422, "unknown_district")
    listed = api.call("GET", "/v1/robots?district=naeoe-dong").body["robots"]
    assert [r["device_id"] for r in listed] == ["robot-001", "robot-002"]
    assert api.call("GET", "/v1/robots?district=saman-dong").body == {"robots": []}


# ---------------------------------------------------------------- air alerts


def test_bad_air_alerts_once_sets_the_purifier_and_clears_after_ten_calm_minutes(
    api: Api, fleet: Any
) -> None:
    clock = fleet["clock"]
    invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.now, pm10=120)))
    # the same message again (a replayed batch), and more bad readings
    invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.now, pm10=120)))
    for _ in range(3):
        invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.advance(minutes=1), pm10=170)))
    sent = alerts(fleet)
    assert [(a["kind"], a["event"], a["device_id"]) for a in sent] == [
        ("air", "opened", SHELTER), ("air", "escalated", SHELTER)]  # fmt: skip
    assert sent[0]["alert_id"] == sent[1]["alert_id"]  # bad, then very bad: one alert
    assert desired_purifier(SHELTER) == "high"
    assert shelter(api)["purifier"]["desired"] == "high"
    # calm for 9 minutes: nothing; the 10th clears, and the purifier goes back to auto
    for _ in range(10):
        invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.advance(minutes=1), pm10=40)))
    assert alerts(fleet) == []
    invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.advance(minutes=1), pm10=40)))
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [("air", "cleared")]
    assert desired_purifier(SHELTER) == "auto"


def test_a_flapping_sensor_for_an_hour_sends_one_alert(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    for minute in range(60):
        pm25 = 80.0 if minute % 2 else 30.0
        invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.advance(minutes=1), pm25=pm25)))
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [("air", "opened")]


def test_the_reported_purifier_state_shows_in_the_api(api: Api, fleet: Any) -> None:
    documents = {"current": {"state": {"reported": {"purifier": "high"}}, "version": 4}}
    invoke(report(SHELTER, "shadow", documents))
    older = {"current": {"state": {"reported": {"purifier": "off"}}, "version": 3}}
    invoke(report(SHELTER, "shadow", older))
    assert shelter(api)["purifier"]["reported"] == "high"


# ---------------------------------------------------------------- robots


def status(at: datetime, can: float, pet: float, fault: str | None = None) -> dict[str, Any]:
    return {"ts": at.isoformat(), "online": True, "bins": {"can": can, "pet": pet},
            "fault": fault, "fw": "1.4.2"}  # fmt: skip


def test_a_full_bin_stops_accepting_alerts_once_and_emptying_resumes(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    invoke(report(ROBOT, "robot_status", status(clock.now, 0.5, 0.91)))
    invoke(report(ROBOT, "robot_status", status(clock.advance(seconds=30), 0.5, 0.95)))
    state = robot(api)
    assert state["accepting"] is False
    assert state["bins"] == {"can": 0.5, "pet": 0.95}
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [("bin_full", "opened")]
    invoke(report(ROBOT, "robot_status", status(clock.advance(seconds=30), 0.5, 0.0)))
    assert robot(api)["accepting"] is True
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [("bin_full", "cleared")]


def test_a_fault_alerts_once_until_it_clears(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    for _ in range(3):
        invoke(report(ROBOT, "robot_status", status(clock.advance(seconds=20), 0.1, 0.1, "E42")))
    assert robot(api)["fault"] == "E42"
    invoke(report(ROBOT, "robot_status", status(clock.advance(seconds=20), 0.1, 0.1)))
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [
        ("fault", "opened"), ("fault", "cleared")]  # fmt: skip
    assert robot(api)["fault"] is None


def test_a_bin_level_out_of_range_is_refused(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    invoke(report(ROBOT, "robot_status", status(clock.now, 0.2, 0.2)))
    invoke(report(ROBOT, "robot_status", status(clock.advance(seconds=5), 1.5, 0.2)))
    assert robot(api)["bins"] == {"can": 0.2, "pet": 0.2}


# ---------------------------------------------------------------- presence


def device_health() -> dict[str, Any]:
    """Fire the health job the way EventBridge does."""
    from app import device_health as handler
    from infra.local.lambda_runtime import LambdaContext

    event = {
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-25T00:00:00Z", "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/device-health"], "detail": {},
    }  # fmt: skip
    result: dict[str, Any] = handler(event, LambdaContext("device-health"))
    return result


def test_a_silent_device_is_marked_offline_once_and_comes_back(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.now)))
    clock.advance(minutes=4)
    assert device_health()["marked_offline"] == []
    clock.advance(minutes=1, seconds=1)
    assert shelter(api)["status"] == "offline"  # silent 5 minutes is offline, marked or not
    first = device_health()
    assert first["marked_offline"] == [SHELTER]
    assert device_health()["marked_offline"] == []  # a second run alerts nothing
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [("offline", "opened")]
    devices = api.call("GET", "/v1/admin/devices", as_user="ops", admin=True).body["devices"]
    mine = next(d for d in devices if d["device_id"] == SHELTER)
    assert [a["kind"] for a in mine["open_alerts"]] == ["offline"]
    invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.advance(seconds=5))))
    assert shelter(api)["status"] == "online"
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [("offline", "cleared")]


def test_a_last_will_marks_offline_at_once(api: Api, fleet: Any) -> None:
    clock = fleet["clock"]
    invoke(report(SHELTER, "shelter_status", {"ts": clock.now.isoformat(), "online": True}))
    assert shelter(api)["status"] == "online"
    clock.advance(seconds=1)  # IoT Core receives the will after the status
    invoke(report(SHELTER, "shelter_status", {"online": False}))
    assert shelter(api)["status"] == "offline"


def test_lifecycle_events_apply_only_from_a_newer_connection(api: Api, fleet: Any) -> None:
    def event(kind: str, version: int) -> dict[str, Any]:
        return {"clientId": ROBOT, "timestamp": 1, "eventType": kind, "versionNumber": version}

    invoke(report(ROBOT, "presence", event("connected", 3)))
    invoke(report(ROBOT, "presence", event("disconnected", 2)))  # an older connection's
    invoke(report(ROBOT, "presence", event("connected", 3)))  # a duplicate
    assert robot(api)["status"] == "online"
    invoke(report(ROBOT, "presence", event("disconnected", 3)))
    assert robot(api)["status"] == "offline"


def test_the_health_job_puts_the_offline_devices_gauge(
    api: Api, fleet: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    device_health()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    gauge = next(m for m in lines if "OfflineDevices" in m)
    assert gauge["OfflineDevices"] == [4.0]  # the fleet never reported
    assert gauge["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Stage"]]


def test_a_crash_after_the_transition_leaves_the_alert_for_the_health_job(
    api: Api, fleet: Any
) -> None:
    """The transition is recorded before publishing; if publishing fails (a crash), the
    notice waits in the device's outbox and the health job sends it: once, not lost."""
    from chalicelib import wiring

    service = wiring.fleet()
    real = service._alerts

    class Down:
        def publish(self, message: dict[str, Any]) -> None:
            raise ConnectionError("SNS unreachable")

    clock = fleet["clock"]
    service._alerts = Down()
    result = invoke(
        report(SHELTER, "shelter_telemetry", telemetry(clock.now, pm10=200)),
        report("shelter-002", "shelter_telemetry", telemetry(clock.now)),
    )
    assert len(result["batchItemFailures"]) == 1  # retried by SQS...
    service._alerts = real
    invoke(report(SHELTER, "shelter_telemetry", telemetry(clock.now, pm10=200)))
    assert alerts(fleet) == []  # ...but the retry is stale: the transition is recorded
    clock.advance(seconds=30)
    assert device_health()["redelivered"] == 0  # the writer may still be at it
    clock.advance(seconds=31)
    assert device_health()["redelivered"] == 2  # the alert, and the purifier's mode
    assert [(a["kind"], a["event"]) for a in alerts(fleet)] == [("air", "opened")]
    assert desired_purifier(SHELTER) == "high"
    assert device_health()["redelivered"] == 0
    assert alerts(fleet) == []


def test_deposits_from_a_robot_that_is_not_accepting_are_credited_and_counted(
    api: Api, fleet: Any
) -> None:
    from tests.functional.conftest import deposit, invoke_deposits, register, rule_message

    register(api, "citizen-a", phone="010-3131-4141")

    def deposit_at_robot(event_id: str) -> None:
        message = rule_message(ROBOT, deposit(event_id, phone="010-3131-4141", can=2))
        assert invoke_deposits([sqs_record(message, event_id)]) == {"batchItemFailures": []}

    deposit_at_robot("evt-fleet-0001")  # accepting: not counted
    invoke(report(ROBOT, "robot_status", status(fleet["clock"].now, 0.95, 0.2)))
    deposit_at_robot("evt-fleet-0002")  # the robot took the cans though its bin was full
    assert api.call("GET", "/v1/me", as_user="citizen-a").body["balance"] == 60
    devices = api.call("GET", "/v1/admin/devices", as_user="ops", admin=True).body["devices"]
    mine = next(d for d in devices if d["device_id"] == ROBOT)
    assert (mine["accepting"], mine["deposits_while_not_accepting"]) == (False, 1)


def test_admin_devices_needs_an_operator(api: Api, fleet: Any) -> None:
    assert api.call("GET", "/v1/admin/devices").status == 401
    response = api.call("GET", "/v1/admin/devices", as_user="citizen")
    assert (response.status, response.body["error"]["code"]) == (403, "forbidden_role")


def test_replayed_and_reordered_telemetry_ends_at_the_newest_reading(api: Api, fleet: Any) -> None:
    """Any order of delivery, with repeats, leaves the newest reading in the state and each
    minute's reading counted once in its hour."""
    import boto3 as b3
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    clock = fleet["clock"]
    base = clock.now.replace(second=0) - timedelta(minutes=10)
    readings = [(base + timedelta(minutes=i), float(10 + i)) for i in range(6)]
    table = b3.client("dynamodb", region_name=REGION)

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(readings), min_size=1, max_size=10))
    def deliver(order: list[tuple[datetime, float]]) -> None:
        from chalicelib.adapters.dynamodb_models import AirHour, DeviceState
        from infra.local.provision import seed_device_states

        table.delete_item(TableName=DeviceState.Meta.table_name, Key={"device_id": {"S": SHELTER}})
        for hour in {at.strftime("%Y-%m-%dT%H") for at, _ in readings}:
            table.delete_item(
                TableName=AirHour.Meta.table_name,
                Key={"device_id": {"S": SHELTER}, "hour": {"S": hour}},
            )
        seed_device_states({"devices": [{"device_id": SHELTER, "type": "shelter"}]})
        invoke(*(report(SHELTER, "shelter_telemetry", telemetry(at, pm10=v)) for at, v in order))
        newest = max(order)
        assert shelter(api)["air"]["pm10"] == newest[1]
        hours = api.call("GET", f"/v1/shelters/{SHELTER}/air?hours=2").body["air"]
        assert sum(h["samples"] for h in hours) == len(set(order))

    deliver()
