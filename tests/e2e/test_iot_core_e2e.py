"""The rest of IoT Core, locally: the data plane and device shadows over the real broker."""

from __future__ import annotations

import json
import os
import queue
import time
from typing import Any

import boto3
import pytest

from iot.device import DeviceClient
from tests.conftest import ROOT
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _shelter(stack: Stack, device_id: str) -> DeviceClient:
    mqtt = stack.document["mqtt"]
    creds = mqtt["devices"][device_id]

    def path(p: str) -> str:
        return p if os.path.isabs(p) else str(ROOT / p)

    client = DeviceClient(
        device_id,
        mqtt["host"],
        mqtt["port"],
        path(mqtt["ca_file"]),
        path(creds["cert_file"]),
        path(creds["key_file"]),
        mqtt["city"],
    )
    client.connect()
    return client


def _iot_data(stack: Stack) -> Any:
    return boto3.client(
        "iot-data",
        endpoint_url=stack.document["aws_endpoint_url"],
        region_name=stack.document["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _next(inbox: queue.Queue[tuple[str, dict[str, Any]]], topic_suffix: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        topic, document = inbox.get(timeout=max(0.1, deadline - time.monotonic()))
        if topic.endswith(topic_suffix):
            return document
    raise AssertionError(f"no message on */{topic_suffix}")


def test_shadow_desired_and_reported_flow_both_ways(stack: Stack) -> None:
    # A robot's shadow: the cloud manages only shelters' purifiers (it would set a
    # shelter's desired back to its own decision), so the plain flow is seen on a robot.
    shelter = _shelter(stack, "robot-002")
    inbox: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    shelter.subscribe(
        "$aws/things/robot-002/shadow/#",
        lambda topic, payload: inbox.put((topic, json.loads(payload))),
    )
    # Other tests of the session's stack may have moved this shelter's purifier: ask for a
    # mode it neither runs nor is asked to run now, so there is a delta to see.
    try:
        now = json.loads(
            _iot_data(stack).get_thing_shadow(thingName="robot-002")["payload"].read()
        )["state"]
    except _iot_data(stack).exceptions.ResourceNotFoundException:
        now = {}
    taken = {now.get("desired", {}).get("purifier"), now.get("reported", {}).get("purifier")}
    mode = next(m for m in ("off", "auto", "high") if m not in taken)
    try:
        # WHEN the cloud sets the purifier's desired state through the IoT data plane
        _iot_data(stack).update_thing_shadow(
            thingName="robot-002",
            payload=json.dumps({"state": {"desired": {"purifier": mode}}}).encode(),
        )
        # THEN the shelter receives the delta over MQTT
        assert _next(inbox, "/update/delta")["state"] == {"purifier": mode}
        # WHEN the shelter reports what it runs, on its own shadow topic
        shelter.publish(
            "$aws/things/robot-002/shadow/update",
            {"state": {"reported": {"purifier": mode}}, "clientToken": "t-1"},
        )
        # THEN the update is accepted and the cloud's shadow document shows it
        assert _next(inbox, "/update/accepted")["clientToken"] == "t-1"
        document = json.loads(
            _iot_data(stack).get_thing_shadow(thingName="robot-002")["payload"].read()
        )
        assert document["state"]["reported"]["purifier"] == mode
        assert "delta" not in document["state"]
    finally:
        shelter.disconnect()


def test_a_device_cannot_touch_another_devices_shadow(stack: Stack) -> None:
    intruder = _shelter(stack, "shelter-002")
    try:
        from iot.device import NotAuthorizedError

        with pytest.raises(NotAuthorizedError):
            intruder.publish(
                "$aws/things/shelter-001/shadow/update",
                {"state": {"reported": {"purifier": "off"}}},
            )
    finally:
        intruder.disconnect()


def test_iot_data_publish_reaches_the_device(stack: Stack) -> None:
    robot = _shelter(stack, "robot-002")
    inbox: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    topic = "gimhae/robots/robot-002/deposits/ack"
    robot.subscribe(topic, lambda t, p: inbox.put((t, json.loads(p))))
    try:
        _iot_data(stack).publish(topic=topic, qos=1, payload=b'{"event_id": "x", "status": "ok"}')
        assert _next(inbox, "/deposits/ack") == {"event_id": "x", "status": "ok"}
    finally:
        robot.disconnect()
