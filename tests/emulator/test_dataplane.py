"""The local IoT data plane: moto's iot-data joined to an (in-memory) MQTT broker."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.iotdata.models import IoTDataPlaneBackend
from moto.iotdata.responses import IoTDataPlaneResponse
from moto.server import ThreadedMotoServer

from chalicelib.topics import topic_matches
from infra.local.iot_data_patch import install_iot_data_bridge
from infra.local.shadow_bridge import ShadowTopicBridge
from infra.local.shadow_documents import SHADOW_REQUEST_FILTERS, parse_shadow_request_topic

REGION = "ap-northeast-2"


class FakeMqtt:
    """In-memory stand-in for infra.local.mqtt.BackendMqtt (same publish/subscribe)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, int]] = []
        self.subscriptions: list[tuple[str, Callable[[str, bytes], None], int]] = []
        self.fail_publish = False
        self._changed = threading.Condition()

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10) -> None:
        if self.fail_publish:
            raise TimeoutError("broker unreachable")
        with self._changed:
            self.published.append((topic, payload, qos))
            self._changed.notify_all()

    def subscribe(
        self, topic_filter: str, callback: Callable[[str, bytes], None], qos: int = 1
    ) -> None:
        self.subscriptions.append((topic_filter, callback, qos))

    def deliver(self, topic: str, payload: bytes) -> None:
        """A device publishes: every matching subscriber's callback runs."""
        for topic_filter, callback, _ in list(self.subscriptions):
            if topic_matches(topic_filter, topic):
                callback(topic, payload)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in self.published if t == topic]

    def wait_for(self, topic: str, timeout: float = 5.0) -> dict[str, Any]:
        with self._changed:
            ok = self._changed.wait_for(lambda: self.on(topic), timeout)
        assert ok, f"nothing published on {topic}; saw {[t for t, _, _ in self.published]}"
        return self.on(topic)[-1]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="module")
def clients(endpoint: str) -> tuple[Any, Any]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return (
        session.client("iot-data", endpoint_url=endpoint),
        session.client("iot", endpoint_url=endpoint),
    )


@pytest.fixture
def mqtt() -> Iterator[FakeMqtt]:
    fake = FakeMqtt()
    uninstall = install_iot_data_bridge(fake)
    try:
        yield fake
    finally:
        uninstall()


@pytest.fixture
def bridge(mqtt: FakeMqtt, clients: tuple[Any, Any]) -> Iterator[ShadowTopicBridge]:
    shadow_bridge = ShadowTopicBridge(mqtt, clients[0])
    shadow_bridge.start()
    try:
        yield shadow_bridge
    finally:
        shadow_bridge.stop()


@pytest.fixture
def thing(clients: tuple[Any, Any]) -> str:
    # moto keeps shadows on registered things only (an unknown thing is a 404).
    name = f"shelter-{uuid.uuid4().hex[:8]}"
    clients[1].create_thing(thingName=name)
    return name


def device_sends(mqtt: FakeMqtt, bridge: ShadowTopicBridge, topic: str, payload: bytes) -> None:
    mqtt.deliver(topic, payload)
    assert bridge.join(5.0)


def shadow(iot_data: Any, thing: str, **kwargs: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        iot_data.get_thing_shadow(thingName=thing, **kwargs)["payload"].read()
    )
    return document


def test_publish_reaches_the_broker_with_topic_payload_and_qos(
    mqtt: FakeMqtt, clients: tuple[Any, Any]
) -> None:
    # GIVEN the bridge installed
    iot_data, _ = clients
    ack = json.dumps({"event_id": "01JD3Q8Z6R4T2V9X0B7C5N1M8K", "status": "credited"}).encode()

    # WHEN Lambda code publishes an ack at QoS 1, a status at QoS 0 and one with no QoS
    iot_data.publish(topic="gimhae/robots/robot-001/deposits/ack", qos=1, payload=ack)
    iot_data.publish(topic="gimhae/robots/robot-001/x", qos=0, payload=b"{}")
    iot_data.publish(topic="gimhae/robots/robot-001/y", payload=b"{}")

    # THEN the broker sees each with its topic, payload and QoS (1 when none is named)
    assert mqtt.published == [
        ("gimhae/robots/robot-001/deposits/ack", ack, 1),
        ("gimhae/robots/robot-001/x", b"{}", 0),
        ("gimhae/robots/robot-001/y", b"{}", 1),
    ]


def test_broker_failure_never_breaks_the_moto_call(
    mqtt: FakeMqtt, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN a broker that fails every publish
    iot_data, _ = clients
    mqtt.fail_publish = True

    # WHEN Lambda code publishes and sets a shadow
    iot_data.publish(topic="gimhae/robots/robot-001/deposits/ack", qos=1, payload=b"{}")
    iot_data.update_thing_shadow(
        thingName=thing, payload=json.dumps({"state": {"desired": {"purifier": "high"}}})
    )

    # THEN both calls succeed and the shadow is stored
    assert shadow(iot_data, thing)["state"]["desired"] == {"purifier": "high"}


def test_cloud_desired_update_publishes_accepted_delta_and_documents(
    mqtt: FakeMqtt, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN a shelter whose shadow does not exist yet
    iot_data, _ = clients
    prefix = f"$aws/things/{thing}/shadow"

    # WHEN the cloud sets the purifier to high
    iot_data.update_thing_shadow(
        thingName=thing,
        payload=json.dumps({"state": {"desired": {"purifier": "high"}}, "clientToken": "c-1"}),
    )

    # THEN accepted, delta and documents are published once each, at QoS 1
    topics = [(t, q) for t, _, q in mqtt.published]
    assert topics == [
        (f"{prefix}/update/accepted", 1),
        (f"{prefix}/update/delta", 1),
        (f"{prefix}/update/documents", 1),
    ]
    accepted = mqtt.on(f"{prefix}/update/accepted")[0]
    ts = accepted["timestamp"]
    assert accepted == {
        "state": {"desired": {"purifier": "high"}},
        "metadata": {"desired": {"purifier": {"timestamp": ts}}},
        "version": 1,
        "timestamp": ts,
        "clientToken": "c-1",
    }
    assert mqtt.on(f"{prefix}/update/delta")[0] == {
        "state": {"purifier": "high"},
        "metadata": {"purifier": {"timestamp": ts}},
        "version": 1,
        "timestamp": ts,
        "clientToken": "c-1",
    }
    assert mqtt.on(f"{prefix}/update/documents")[0] == {
        "previous": None,
        "current": {
            "state": {"desired": {"purifier": "high"}},
            "metadata": {"desired": {"purifier": {"timestamp": ts}}},
            "version": 1,
        },
        "timestamp": ts,
        "clientToken": "c-1",
    }


def test_device_reported_update_reaches_moto_and_ends_the_delta(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN the cloud wants the purifier high
    iot_data, _ = clients
    prefix = f"$aws/things/{thing}/shadow"
    iot_data.update_thing_shadow(
        thingName=thing, payload=json.dumps({"state": {"desired": {"purifier": "high"}}})
    )
    mqtt.published.clear()

    # WHEN the shelter reports that it runs high, through the broker
    device_sends(
        mqtt,
        bridge,
        f"{prefix}/update",
        json.dumps({"state": {"reported": {"purifier": "high"}}, "clientToken": "dev-7"}).encode(),
    )

    # THEN moto's shadow shows it, accepted and documents go out once, and no delta does
    stored = shadow(iot_data, thing)
    assert stored["state"] == {"desired": {"purifier": "high"}, "reported": {"purifier": "high"}}
    assert stored["version"] == 2
    assert [t for t, _, _ in mqtt.published] == [
        f"{prefix}/update/accepted",
        f"{prefix}/update/documents",
    ]
    assert mqtt.on(f"{prefix}/update/accepted")[0]["clientToken"] == "dev-7"
    documents = mqtt.on(f"{prefix}/update/documents")[0]
    assert documents["previous"]["version"] == 1
    assert documents["current"]["state"]["reported"] == {"purifier": "high"}


def test_a_null_section_is_removed_as_in_aws(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN desired high (moto alone would keep desired when it is sent as null)
    iot_data, _ = clients
    prefix = f"$aws/things/{thing}/shadow"
    iot_data.update_thing_shadow(
        thingName=thing, payload=b'{"state":{"desired":{"purifier":"high"}}}'
    )

    # WHEN the device reports high and clears desired in one update
    payload = b'{"state":{"reported":{"purifier":"high"},"desired":null}}'
    device_sends(mqtt, bridge, f"{prefix}/update", payload)

    # THEN the shadow keeps only reported, and documents.current shows the same
    assert shadow(iot_data, thing)["state"] == {"reported": {"purifier": "high"}}
    current = mqtt.on(f"{prefix}/update/documents")[-1]["current"]
    assert current["state"] == {"reported": {"purifier": "high"}}
    assert "desired" not in current["metadata"]


def test_invalid_json_on_update_is_rejected_with_400(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge, thing: str
) -> None:
    # GIVEN a shelter's update topic
    prefix = f"$aws/things/{thing}/shadow"

    # WHEN the device sends broken JSON, then JSON that is no state document
    device_sends(mqtt, bridge, f"{prefix}/update", b'{"state": {')
    device_sends(
        mqtt, bridge, f"{prefix}/update", json.dumps({"state": 3, "clientToken": "t-9"}).encode()
    )

    # THEN both are rejected with 400; the token is echoed where it could be read
    broken, not_state = mqtt.on(f"{prefix}/update/rejected")
    assert broken["code"] == 400 and "clientToken" not in broken
    assert isinstance(broken["timestamp"], int) and broken["message"]
    assert not_state["code"] == 400 and not_state["clientToken"] == "t-9"
    assert not mqtt.on(f"{prefix}/update/accepted")


def test_version_conflict_is_rejected_with_409(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN a shadow at version 1
    iot_data, _ = clients
    prefix = f"$aws/things/{thing}/shadow"
    iot_data.update_thing_shadow(
        thingName=thing, payload=b'{"state":{"desired":{"purifier":"auto"}}}'
    )

    # WHEN a device updates against version 7
    payload = {"state": {"reported": {"purifier": "auto"}}, "version": 7, "clientToken": "v"}
    device_sends(mqtt, bridge, f"{prefix}/update", json.dumps(payload).encode())

    # THEN it is rejected with 409 and the shadow is unchanged
    rejected = mqtt.wait_for(f"{prefix}/update/rejected")
    assert (rejected["code"], rejected["clientToken"]) == (409, "v")
    assert shadow(iot_data, thing)["version"] == 1


def test_get_missing_shadow_is_rejected_with_404_and_get_answers_the_document(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN a thing without a shadow
    iot_data, _ = clients
    prefix = f"$aws/things/{thing}/shadow"

    # WHEN the device asks for its shadow
    device_sends(mqtt, bridge, f"{prefix}/get", json.dumps({"clientToken": "g-1"}).encode())

    # THEN get/rejected says 404
    rejected = mqtt.wait_for(f"{prefix}/get/rejected")
    assert (rejected["code"], rejected["clientToken"]) == (404, "g-1")

    # WHEN the cloud sets desired and the device asks again with an empty message
    iot_data.update_thing_shadow(
        thingName=thing, payload=b'{"state":{"desired":{"purifier":"high"}}}'
    )
    device_sends(mqtt, bridge, f"{prefix}/get", b"")

    # THEN get/accepted carries the whole document with its delta
    accepted = mqtt.wait_for(f"{prefix}/get/accepted")
    assert accepted["state"] == {"desired": {"purifier": "high"}, "delta": {"purifier": "high"}}
    assert accepted["version"] == 1 and "clientToken" not in accepted


def test_delete_publishes_accepted_once_and_then_404(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN a shadow at version 1
    iot_data, _ = clients
    prefix = f"$aws/things/{thing}/shadow"
    iot_data.update_thing_shadow(
        thingName=thing, payload=b'{"state":{"reported":{"purifier":"off"}}}'
    )

    # WHEN the device deletes it twice
    device_sends(mqtt, bridge, f"{prefix}/delete", json.dumps({"clientToken": "d-1"}).encode())
    device_sends(mqtt, bridge, f"{prefix}/delete", json.dumps({"clientToken": "d-2"}).encode())

    # THEN the first is accepted once (with its token), the second is a 404
    accepted = mqtt.on(f"{prefix}/delete/accepted")
    assert len(accepted) == 1
    assert accepted[0]["clientToken"] == "d-1" and isinstance(accepted[0]["version"], int)
    rejected = mqtt.on(f"{prefix}/delete/rejected")
    assert [(r["code"], r["clientToken"]) for r in rejected] == [(404, "d-2")]


def test_named_shadows_work_both_ways(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN a named shadow "purifier" on the shelter
    iot_data, _ = clients
    prefix = f"$aws/things/{thing}/shadow/name/purifier"

    # WHEN the cloud sets desired, then the device reports, gets and deletes through MQTT
    iot_data.update_thing_shadow(
        thingName=thing, shadowName="purifier", payload=b'{"state":{"desired":{"mode":"high"}}}'
    )
    device_sends(mqtt, bridge, f"{prefix}/update", b'{"state":{"reported":{"mode":"high"}}}')
    device_sends(mqtt, bridge, f"{prefix}/get", b"{}")
    got = mqtt.wait_for(f"{prefix}/get/accepted")
    device_sends(mqtt, bridge, f"{prefix}/delete", b"")

    # THEN every message uses the named topics, and the classic shadow is untouched
    assert mqtt.on(f"{prefix}/update/delta")[0]["state"] == {"mode": "high"}
    assert len(mqtt.on(f"{prefix}/update/accepted")) == 2
    assert got["state"] == {"desired": {"mode": "high"}, "reported": {"mode": "high"}}
    assert mqtt.on(f"{prefix}/delete/accepted")[0]["version"] == 3
    assert not [t for t, _, _ in mqtt.published if not t.startswith(prefix)]
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        iot_data.get_thing_shadow(thingName=thing)


def test_bridge_subscribes_to_the_six_request_filters(
    mqtt: FakeMqtt, bridge: ShadowTopicBridge
) -> None:
    # GIVEN a started bridge / WHEN we look at its subscriptions
    filters = {f for f, _, _ in mqtt.subscriptions}

    # THEN it listens on the classic and named update/get/delete topics, and only there
    assert (
        filters
        == set(SHADOW_REQUEST_FILTERS)
        == {
            "$aws/things/+/shadow/update",
            "$aws/things/+/shadow/get",
            "$aws/things/+/shadow/delete",
            "$aws/things/+/shadow/name/+/update",
            "$aws/things/+/shadow/name/+/get",
            "$aws/things/+/shadow/name/+/delete",
        }
    )
    assert parse_shadow_request_topic("$aws/things/t/shadow/update/accepted") is None


def test_uninstall_restores_moto(clients: tuple[Any, Any]) -> None:
    # GIVEN moto's own methods
    names = ("publish", "update_thing_shadow", "delete_thing_shadow")
    originals = {n: IoTDataPlaneBackend.__dict__[n] for n in names}
    response_originals = {n: IoTDataPlaneResponse.__dict__[n] for n in ("publish",)}
    fake = FakeMqtt()

    # WHEN the bridge is installed, then uninstalled (twice: harmless)
    uninstall = install_iot_data_bridge(fake)
    assert IoTDataPlaneBackend.__dict__["publish"] is not originals["publish"]
    uninstall()
    uninstall()

    # THEN moto's methods are back and nothing reaches the broker any more
    assert {n: IoTDataPlaneBackend.__dict__[n] for n in names} == originals
    assert IoTDataPlaneResponse.__dict__["publish"] is response_originals["publish"]
    clients[0].publish(topic="gimhae/robots/robot-001/deposits/ack", qos=1, payload=b"{}")
    assert fake.published == []
