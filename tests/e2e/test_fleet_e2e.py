"""Shelters and robots end to end on the local stack, over real MQTT: bad air shows in the
API within seconds, operators get exactly one alert, the purifier is switched by shadow and
reports back, an impossible reading changes nothing, a full bin stops a robot, and the health
job marks a silent device offline."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from iot.device import RobotClient, ShelterClient, stack_connection
from tests.conftest import ROOT
from tests.e2e.conftest import SILENT_SECONDS, Stack

pytestmark = pytest.mark.e2e


def _abs(path: str) -> str:
    return path if os.path.isabs(path) else str(ROOT / path)


def _aws(stack: Stack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _wait(what: str, check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def operator_inbox(stack: Stack) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """A queue subscribed to the operators' alerts topic: what operators receive."""
    sns, sqs = _aws(stack, "sns"), _aws(stack, "sqs")
    topic = next(
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith("-alerts")
    )
    url = sqs.create_queue(QueueName="e2e-operator-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    received: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not got.get("Messages"):
                return received
            for m in got["Messages"]:
                received.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    yield drain


def _shelter_client(stack: Stack, device_id: str) -> ShelterClient:
    client = ShelterClient(device_id, **stack_connection(stack.document, device_id, _abs))
    client.connect()
    return client


def _state(stack: Stack, path: str) -> dict[str, Any]:
    status, body = stack.http("GET", path)
    assert status == 200, body
    return dict(body)


def test_bad_air_alerts_once_and_the_purifier_follows_by_shadow(
    stack: Stack, operator_inbox: Callable[[], list[dict[str, Any]]]
) -> None:
    shelter = _shelter_client(stack, "shelter-001")
    deltas: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_delta(topic: str, payload: bytes) -> None:
        # a shelter runs what the cloud desires and reports it back
        document = json.loads(payload)
        deltas.put(document)
        mode = document.get("state", {}).get("purifier")
        if mode:
            shelter.publish(
                "$aws/things/shelter-001/shadow/update",
                {"state": {"reported": {"purifier": mode}}},
            )

    shelter.subscribe("$aws/things/shelter-001/shadow/update/delta", on_delta)
    try:
        # GIVEN good air; WHEN the shelter publishes bad air (and again, a minute's resend)
        shelter.telemetry({"pm10": 20.0, "pm25": 8.0, "chargers": {"total": 4, "in_use": 1}})
        time.sleep(1.1)  # telemetry is stamped to the second: the next one must be newer
        shelter.telemetry({"pm10": 120.0, "pm25": 30.0, "chargers": {"total": 4, "in_use": 2}})
        # THEN the API shows the grade within seconds
        air = _wait(
            "the bad grade in the API",
            lambda: (a := _state(stack, "/v1/shelters/shelter-001")["air"])["grade"] == "bad" and a,
        )
        assert air["pm10"] == 120.0
        time.sleep(1.1)
        shelter.telemetry({"pm10": 130.0, "pm25": 30.0})
        # AND the shelter receives the purifier delta over MQTT and reports back
        delta = deltas.get(timeout=10)
        assert delta["state"] == {"purifier": "high"}
        purifier = _wait(
            "the reported purifier in the API",
            lambda: (
                (p := _state(stack, "/v1/shelters/shelter-001")["purifier"])["reported"] == "high"
                and p
            ),
        )
        assert (purifier["reported"], purifier["desired"]) == ("high", "high")
        # AND operators got exactly one air alert for the episode
        _wait("the air alert", lambda: [a for a in operator_inbox() if a["kind"] == "air"])
        _wait("the second bad reading", lambda: _state(stack, "/v1/shelters/shelter-001")[
            "air"]["pm10"] == 130.0)  # fmt: skip

        # WHEN an impossible reading arrives
        time.sleep(1.1)
        shelter.telemetry({"pm10": -5.0, "pm25": 30.0, "chargers": {"total": 4, "in_use": 9}})
        admin = stack.token("ops-e2e", admin=True)

        def quarantined() -> list[dict[str, Any]]:
            status, body = stack.http("GET", "/v1/admin/quarantine?source=fleet", token=admin)
            assert status == 200
            return [q for q in body["items"] if q["device_id"] == "shelter-001"]

        # THEN it is quarantined with its reason and the state is unchanged
        refused = _wait("the quarantined reading", quarantined)
        assert refused[0]["reason"] == "implausible_reading"
        state = _state(stack, "/v1/shelters/shelter-001")
        assert (state["air"]["pm10"], state["chargers"]["in_use"]) == (130.0, 2)
        # AND, the shelter's later reading handled, still one air alert for the episode
        air_alerts = [a for a in operator_inbox() if a["kind"] == "air"]
        assert [(a["device_id"], a["event"]) for a in air_alerts] == [("shelter-001", "opened")]
    finally:
        shelter.disconnect()


def test_a_shelter_that_turns_its_purifier_off_in_bad_air_is_put_back_to_high(
    stack: Stack,
) -> None:
    shelter = _shelter_client(stack, "shelter-001")
    documents: queue.Queue[dict[str, Any]] = queue.Queue()
    shelter.subscribe(
        "$aws/things/shelter-001/shadow/update/documents",
        lambda topic, payload: documents.put(json.loads(payload)),
    )
    data = _aws(stack, "iot-data")

    def desired() -> Any:
        try:
            got = data.get_thing_shadow(thingName="shelter-001")
        except data.exceptions.ResourceNotFoundException:
            return None  # no shadow until the cloud first writes one
        return json.loads(got["payload"].read())["state"].get("desired", {}).get("purifier")

    try:
        # GIVEN bad air at the shelter: the cloud desires its purifier high
        time.sleep(1.1)
        shelter.telemetry({"pm10": 140.0, "pm25": 40.0})
        _wait("bad air", lambda: _state(stack, "/v1/shelters/shelter-001")["air"]["pm10"] == 140.0)
        _wait("the cloud's high", lambda: desired() == "high")
        # WHEN the shelter writes desired off itself, through its shadow
        shelter.publish(
            "$aws/things/shelter-001/shadow/update",
            {"state": {"desired": {"purifier": "off"}}, "clientToken": "rogue-1"},
        )
        # THEN the shadow showed off, and the cloud put it back to high at once
        seen: list[Any] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and seen[-2:] != ["off", "high"]:
            try:
                document = documents.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(document["current"]["state"].get("desired", {}).get("purifier"))
        assert seen[-2:] == ["off", "high"], seen
        assert desired() == "high"
        view = _wait(
            "the API's view of the shadow",
            lambda: (p := _state(stack, "/v1/shelters/shelter-001")["purifier"])[
                "shadow_desired"] == "high" and p,
        )  # fmt: skip
        assert view["desired"] == "high"
        # AND once put back, the cloud writes no more (no loop with its own update): the
        # next document is the shelter's own report
        shelter.publish(
            "$aws/things/shelter-001/shadow/update",
            {"state": {"reported": {"purifier": "high"}}, "clientToken": "marker-1"},
        )
        following = documents.get(timeout=10)
        assert following.get("clientToken") == "marker-1", following
        assert following["current"]["state"]["desired"] == {"purifier": "high"}
    finally:
        shelter.disconnect()


def test_a_full_bin_stops_the_robot_and_an_emptied_bin_resumes(stack: Stack) -> None:
    robot = RobotClient("robot-002", **stack_connection(stack.document, "robot-002", _abs))
    robot.connect()
    try:
        robot.status({"can": 0.3, "pet": 0.95})
        _wait(
            "the robot not accepting",
            lambda: _state(stack, "/v1/robots/robot-002")["accepting"] is False,
        )
        assert _state(stack, "/v1/robots/robot-002")["bins"] == {"can": 0.3, "pet": 0.95}
        time.sleep(1.1)  # a status is stamped to the second
        robot.status({"can": 0.3, "pet": 0.0})
        _wait(
            "the robot accepting again",
            lambda: _state(stack, "/v1/robots/robot-002")["accepting"] is True,
        )
    finally:
        robot.disconnect()


def test_a_silent_device_is_marked_offline_by_the_health_job(
    stack: Stack, operator_inbox: Callable[[], list[dict[str, Any]]]
) -> None:
    shelter = _shelter_client(stack, "shelter-002")
    try:
        shelter.telemetry({"pm10": 10.0, "pm25": 5.0})
        _wait(
            "shelter-002 online",
            lambda: _state(stack, "/v1/shelters/shelter-002")["status"] == "online",
        )
    finally:
        shelter.disconnect()  # a clean disconnect: no last will, just silence
    time.sleep(SILENT_SECONDS + 1)
    fired = subprocess.run(
        [sys.executable, "-m", "infra.local", "fire", "device_health",
         "--state-dir", str(stack.state_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert fired.returncode == 0, fired.stderr
    assert _state(stack, "/v1/shelters/shelter-002")["status"] == "offline"
    admin = stack.token("ops-e2e", admin=True)
    status, body = stack.http("GET", "/v1/admin/devices", token=admin)
    assert status == 200
    mine = next(d for d in body["devices"] if d["device_id"] == "shelter-002")
    assert [a["kind"] for a in mine["open_alerts"]] == ["offline"]
    offline = _wait(
        "the offline alert",
        lambda: [
            a for a in operator_inbox()
            if a["kind"] == "offline" and a["device_id"] == "shelter-002"
        ],
    )  # fmt: skip
    assert [a["event"] for a in offline] == ["opened"]
