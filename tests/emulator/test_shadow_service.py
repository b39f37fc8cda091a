"""The local Device Shadow service refuses what AWS refuses, in AWS's words, and nothing a
device sends can crash it: documents over 8 KB (alone or once merged), nesting past 6 levels,
invalid JSON or encoding, a 3,000-deep document. Each refusal is published on
`update/rejected` as `{code, message, timestamp, clientToken?}`, the shadow is left as it was,
and the bridge goes on serving. Devices may publish only the shadow requests (the broker's
ACL from iot/policies.py): the service's reply topics are its own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iot.device import NotAuthorizedError, ShelterClient
from iot.policies import policy_document
from tests.emulator.test_broker import _device, _wait
from tests.emulator.test_broker import stack as stack  # real mosquitto and certificates
from tests.emulator.test_dataplane import FakeMqtt, device_sends, shadow
from tests.emulator.test_dataplane import bridge as bridge
from tests.emulator.test_dataplane import clients as clients
from tests.emulator.test_dataplane import endpoint as endpoint
from tests.emulator.test_dataplane import mqtt as mqtt
from tests.emulator.test_dataplane import thing as thing


def _nested(levels: int) -> dict[str, Any]:
    """A section `levels` deep, counting its own object: {"k": {"k": ... 1}}."""
    node: Any = 1
    for _ in range(levels):
        node = {"k": node}
    return dict(node)


def _rejected(mqtt: FakeMqtt, thing: str) -> list[dict[str, Any]]:
    return mqtt.on(f"$aws/things/{thing}/shadow/update/rejected")


def _update(mqtt: FakeMqtt, bridge: Any, thing: str, payload: bytes) -> None:
    device_sends(mqtt, bridge, f"$aws/things/{thing}/shadow/update", payload)


def _assert_aws_error(error: dict[str, Any], code: int, message: str, token: str | None) -> None:
    expected = {"code", "message", "timestamp"} | ({"clientToken"} if token else set())
    assert set(error) == expected
    assert (error["code"], error["message"]) == (code, message)
    assert isinstance(error["timestamp"], int)
    assert error.get("clientToken") == token


def test_a_state_over_8_kb_is_rejected_413_and_changes_nothing(
    mqtt: FakeMqtt, bridge: Any, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN a shadow holding a small reported state
    _update(mqtt, bridge, thing, b'{"state":{"reported":{"purifier":"auto"}}}')
    before = shadow(clients[0], thing)
    # WHEN the device sends a desired state of 9 KB
    big = {"state": {"desired": {"blob": "x" * 9000}}, "clientToken": "big-1"}
    _update(mqtt, bridge, thing, json.dumps(big).encode())
    # THEN it is rejected as AWS does, and the shadow is as it was
    _assert_aws_error(
        _rejected(mqtt, thing)[-1], 413, "The payload exceeds the maximum size allowed", "big-1"
    )
    assert shadow(clients[0], thing)["state"] == before["state"]
    assert shadow(clients[0], thing)["version"] == before["version"]


def test_updates_whose_merged_state_passes_8_kb_are_rejected(
    mqtt: FakeMqtt, bridge: Any, clients: tuple[Any, Any], thing: str
) -> None:
    # GIVEN 5 KB of reported state
    _update(mqtt, bridge, thing, json.dumps({"state": {"reported": {"a": "x" * 5000}}}).encode())
    # WHEN another 5 KB would be merged in (each alone is under 8 KB)
    _update(mqtt, bridge, thing, json.dumps({"state": {"reported": {"b": "y" * 5000}}}).encode())
    # THEN the second is refused and the first kept
    assert _rejected(mqtt, thing)[-1]["code"] == 413
    assert set(shadow(clients[0], thing)["state"]["reported"]) == {"a"}


def test_the_cloud_api_is_held_to_the_same_8_kb(
    mqtt: FakeMqtt, clients: tuple[Any, Any], thing: str
) -> None:
    with pytest.raises(ClientError) as refused:
        clients[0].update_thing_shadow(
            thingName=thing,
            payload=json.dumps({"state": {"desired": {"blob": "x" * 9000}}}).encode(),
        )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_six_levels_are_accepted_and_seven_rejected_400(
    mqtt: FakeMqtt, bridge: Any, clients: tuple[Any, Any], thing: str
) -> None:
    _update(mqtt, bridge, thing, json.dumps({"state": {"desired": _nested(6)}}).encode())
    assert _rejected(mqtt, thing) == []
    assert shadow(clients[0], thing)["state"]["desired"] == _nested(6)
    seven = {"state": {"reported": _nested(7)}, "clientToken": "deep-7"}
    _update(mqtt, bridge, thing, json.dumps(seven).encode())
    _assert_aws_error(
        _rejected(mqtt, thing)[-1],
        400,
        "JSON contains too many levels of nesting; maximum is 6",
        None,  # refused before the document is read: AWS cannot echo what it did not parse
    )
    assert "reported" not in shadow(clients[0], thing)["state"]


@pytest.mark.parametrize(
    "payload",
    [
        b'{"state":{"desired":' * 3000 + b"1" + b"}}" * 3000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"state":{"desired":{"a":[' + b"[" * 3000 + b"]" * 3000 + b"]}}}",
    ],
    ids=["3000-deep-objects", "100000-deep-arrays", "deep-inside-a-section"],
)
def test_a_document_thousands_deep_is_rejected_and_the_bridge_keeps_serving(
    mqtt: FakeMqtt, bridge: Any, clients: tuple[Any, Any], thing: str, payload: bytes
) -> None:
    # WHEN a device sends a document nested thousands deep
    _update(mqtt, bridge, thing, payload)
    # THEN it is rejected with AWS's nesting error (or 413 when it is also too big)
    (error,) = _rejected(mqtt, thing)
    assert (error["code"], error["message"]) in (
        (400, "JSON contains too many levels of nesting; maximum is 6"),
        (413, "The payload exceeds the maximum size allowed"),
    )
    # AND the bridge still serves the next request
    _update(mqtt, bridge, thing, b'{"state":{"reported":{"purifier":"auto"}}}')
    assert shadow(clients[0], thing)["state"]["reported"] == {"purifier": "auto"}


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        (b'{"state": {"desired": ', 400, "Invalid JSON"),
        (b'{"state": {"desired": {"x": NaN}}}', 400, "Invalid JSON"),
        (b"", 400, "Invalid JSON"),
        (b'{"state": {"desired": {"x": "\xff\xfe"}}}', 415,
         "Unsupported documented encoding; supported encoding is UTF-8"),
        (b'{"state": {"desired": {"x": "' + b"y" * 140_000 + b'"}}}', 413,
         "The payload exceeds the maximum size allowed"),
    ],
    ids=["truncated", "nan", "empty", "latin-1", "over-128-kb"],
)  # fmt: skip
def test_what_is_not_a_json_document_is_rejected_in_aws_words(
    mqtt: FakeMqtt, bridge: Any, thing: str, payload: bytes, code: int, message: str
) -> None:
    _update(mqtt, bridge, thing, payload)
    _assert_aws_error(_rejected(mqtt, thing)[-1], code, message, None)


# ---------------------------------------------------------------- the reply topics


REPLIES = ("update/accepted", "update/rejected", "update/delta", "update/documents",
           "get/accepted", "get/rejected", "delete/accepted", "delete/rejected")  # fmt: skip


def test_the_iot_policy_lets_a_device_publish_only_shadow_requests() -> None:
    for device_type in ("robot", "shelter"):
        document = policy_document(device_type, "gimhae")
        published = [
            resource
            for statement in document["Statement"]
            if statement["Action"] == ["iot:Publish"]
            for resource in statement["Resource"]
        ]
        shadow_topics = [r.split("/shadow/", 1)[1] for r in published if "/shadow/" in r]
        assert sorted(shadow_topics) == sorted(
            ["update", "get", "delete", "name/*/update", "name/*/get", "name/*/delete"]
        )


@pytest.mark.parametrize("reply", REPLIES)
def test_a_device_cannot_publish_on_the_services_reply_topics(stack: Any, reply: str) -> None:
    # GIVEN the backend listening on the shelter's shadow topics, and the shelter connected
    got: list[str] = []
    stack["backend"].subscribe("$aws/things/shelter-001/shadow/#", lambda t, p: got.append(t))
    shelter = _device(stack, "shelter-001", ShelterClient)
    try:
        # WHEN the shelter forges the service's reply, THEN the broker refuses it
        forged = {"state": {"reported": {"purifier": "off"}}, "version": 99}
        with pytest.raises(NotAuthorizedError):
            shelter.publish(f"$aws/things/shelter-001/shadow/{reply}", forged)
        # AND a real request still goes through; by the time it arrives, the forgery did not
        shelter.publish("$aws/things/shelter-001/shadow/get", {})
        assert _wait(lambda: "$aws/things/shelter-001/shadow/get" in got)
        assert f"$aws/things/shelter-001/shadow/{reply}" not in got
    finally:
        shelter.disconnect()


def test_update_documents_carry_the_previous_state_as_it_was(
    mqtt: FakeMqtt, bridge: Any, thing: str
) -> None:
    # GIVEN a shadow whose shelter reported auto
    _update(mqtt, bridge, thing, b'{"state":{"reported":{"purifier":"auto"}}}')
    # WHEN it reports high
    _update(mqtt, bridge, thing, b'{"state":{"reported":{"purifier":"high"}}}')
    # THEN the documents message tells before from after (moto merged into the old version)
    documents = mqtt.on(f"$aws/things/{thing}/shadow/update/documents")[-1]
    assert documents["previous"]["state"]["reported"] == {"purifier": "auto"}
    assert documents["current"]["state"]["reported"] == {"purifier": "high"}
    assert documents["previous"]["version"] + 1 == documents["current"]["version"]
