"""The MQTT contract's AsyncAPI document: valid against the AsyncAPI 3.0.0 JSON Schema (vendored
from npm's @asyncapi/specs), complete (every topic, its direction, QoS and payload), and held
to the code that enforces it: the devices' IoT policies, the topic rules, the ack's
statuses and reasons, the last will, the size limit."""

from __future__ import annotations

import copy
import json
import typing
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft7Validator

from chalicelib import topics
from chalicelib.api import asyncapi
from tests.conftest import ROOT

SPEC = ROOT / "tests/vendor/asyncapi-specs-6.11.1/3.0.0.json"


@cache
def _validator() -> Draft7Validator:
    schema = json.loads(SPEC.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _errors(doc: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in _validator().iter_errors(doc)
    ]


def test_the_document_is_valid_asyncapi_3() -> None:
    doc = asyncapi.document()
    assert doc["asyncapi"] == "3.0.0"
    assert _errors(doc) == []


def _broken(doc: dict[str, Any], name: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    if name == "operation_action":
        doc["operations"]["send_robot_deposits"]["action"] = "publish"  # AsyncAPI 2's word
    elif name == "qos":
        doc["operations"]["send_robot_deposits"]["bindings"]["mqtt"]["qos"] = 3
    elif name == "security_type":
        doc["components"]["securitySchemes"]["deviceCertificate"]["type"] = "mtls"
    elif name == "no_info":
        del doc["info"]
    elif name == "channel_field":
        doc["channels"]["robot_deposits"]["topic"] = "old-style"
    elif name == "version":
        doc["asyncapi"] = "3.0"
    return doc


@pytest.mark.parametrize(
    "name", ["operation_action", "qos", "security_type", "no_info", "channel_field", "version"]
)
def test_the_vendored_schema_rejects_a_broken_document(name: str) -> None:
    # GIVEN the generated document, broken in one place
    broken = _broken(asyncapi.document(), name)
    # THEN the specification's schema refuses it (so the validation above means something)
    assert _errors(broken) != []


def test_every_topic_is_a_channel_with_its_direction_qos_and_parameters() -> None:
    doc = asyncapi.document()
    for channel in topics.CHANNELS:
        found = doc["channels"][channel.name]
        assert found["address"] == channel.address
        assert found["x-direction"] == f"{channel.sender} -> {channel.receiver}"
        assert found["x-qos"] == list(channel.qos)
        assert set(found["parameters"]) == {
            p for p in ("city", "device_id") if "{" + p + "}" in channel.address
        }
        assert found["messages"], channel.name
    assert set(doc["channels"]) == {c.name for c in topics.CHANNELS}
    # every operation is the device's: it sends what it publishes, receives what it reads
    for op_id, op in doc["operations"].items():
        channel = next(c for c in topics.CHANNELS if op["channel"]["$ref"].endswith(c.name))
        side = channel.sender if op["action"] == "send" else channel.receiver
        assert side in ("robot", "shelter"), op_id
        assert op["bindings"]["mqtt"]["qos"] == channel.qos[0]
    assert "device's" in doc["info"]["description"]


def test_the_ack_statuses_and_reasons_are_the_codes() -> None:
    from chalicelib.domain.recycling import AckStatus, RejectReason

    schemas = asyncapi.document()["components"]["schemas"]
    statuses = {*schemas["SettledAck"]["properties"]["status"]["enum"]}
    statuses.add(schemas["RejectedAck"]["properties"]["status"]["const"])
    assert statuses == set(typing.get_args(AckStatus))
    assert schemas["RejectedAck"]["properties"]["reason"]["enum"] == list(
        typing.get_args(RejectReason)
    )


def test_the_last_will_and_the_size_limit_are_the_codes() -> None:
    from chalicelib.events.intake import MAX_PAYLOAD_BYTES

    doc = asyncapi.document()
    will = doc["components"]["schemas"]["LastWill"]
    assert Draft7Validator(will).is_valid(topics.LAST_WILL)
    assert not Draft7Validator(will).is_valid({"online": True})
    lastwill = doc["servers"]["aws"]["bindings"]["mqtt"]["lastWill"]
    assert json.loads(lastwill["message"]) == topics.LAST_WILL and lastwill["qos"] == 1
    assert MAX_PAYLOAD_BYTES == 128 * 1024 and "128 KB" in doc["info"]["description"]
    assert doc["components"]["securitySchemes"]["deviceCertificate"]["type"] == "X509"


def _grants(device_type: str) -> list[tuple[str, str]]:
    from iot.policies import device_topic_grants

    return device_topic_grants(device_type, "gimhae", "dev-1")


def test_the_devices_policies_grant_exactly_the_channels_they_use() -> None:
    for channel in topics.CHANNELS:
        topic = channel.address.format(city="gimhae", device_id="dev-1")
        for device, action in ((channel.sender, "publish"), (channel.receiver, "receive")):
            if device in ("robot", "shelter"):
                assert any(
                    a == action and topics.topic_matches(f, topic) for a, f in _grants(device)
                ), f"{device} may not {action} {topic}"
    # every grant outside the standard shadow topics is a channel of the contract
    for device in ("robot", "shelter"):
        for action, topic_filter in _grants(device):
            if topic_filter.startswith("$aws/") or action == "subscribe":
                continue
            sides = [
                c.sender if action == "publish" else c.receiver
                for c in topics.CHANNELS
                if c.address.format(city="gimhae", device_id="dev-1") == topic_filter
            ]
            assert sides == [device], (device, action, topic_filter)


def test_every_topic_rule_reads_a_channel_the_cloud_receives() -> None:
    from iot.rule_definitions import load_rules

    for rule in load_rules("gimhae"):
        source = rule.sql.split(" FROM '", 1)[1].split("'", 1)[0]
        if source.startswith("$aws/events/"):
            continue  # AWS IoT's lifecycle events: not a device's topic
        read = [
            c
            for c in topics.CHANNELS
            if topics.topic_matches(source, c.address.format(city="gimhae", device_id="dev-1"))
        ]
        assert [c.receiver for c in read] == ["cloud"], (rule.name, source)


def _payload_validator(channel: str, message: str) -> Draft7Validator:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    doc = asyncapi.document()
    registry: Registry = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(doc, default_specification=DRAFT7)
    )
    payload = doc["components"]["messages"][message]["payload"]["$ref"]
    assert doc["channels"][channel]["messages"][message]
    return Draft7Validator({"$ref": "urn:asyncapi" + payload}, registry=registry)


def test_every_ack_the_cloud_builds_is_the_documented_message() -> None:
    from chalicelib.domain.recycling import DepositAck, RejectReason, rejected

    check = _payload_validator("robot_deposit_ack", "deposit_ack")
    built = [
        DepositAck("evt-00000001", "credited", 50, 1230).as_message(),
        DepositAck("evt-00000001", "credited", 15, 1500, "daily_limit").as_message(),
        DepositAck("evt-00000001", "duplicate", 50, 1230).as_message(),
        rejected(None, "invalid_payload").as_message(),
        *(rejected("evt-00000001", r).as_message() for r in typing.get_args(RejectReason)),
    ]
    for message in built:
        assert check.is_valid(message), message
    assert not check.is_valid({"event_id": "evt-00000001", "status": "rejected"})
    assert not check.is_valid({"event_id": "evt-00000001", "status": "lost", "reason": "x"})


def test_the_clouds_shadow_update_is_the_documented_message() -> None:
    from chalicelib.domain.fleet import ShadowUpdate

    check = _payload_validator("shadow_update", "shadow_report")
    for mode in ("auto", "high", "off"):
        assert check.is_valid(
            json.loads(ShadowUpdate.desire(mode).model_dump_json(exclude_none=True))
        )
    assert not check.is_valid({"state": {"desired": {"purifier": "turbo"}}})
