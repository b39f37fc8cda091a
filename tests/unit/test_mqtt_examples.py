"""The MQTT examples under tests/events/mqtt/: one or more for every message of every channel
of the AsyncAPI document; each one valid against its payload schema there, and read by the
same code the cloud reads it with (a device's message is not refused, the cloud's own is
what its model builds)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from chalicelib import topics
from chalicelib.api import asyncapi
from tests.events import load, names

EXAMPLES = names("mqtt")


@cache
def _validator(message: str) -> Draft7Validator:
    doc = asyncapi.document()
    registry: Registry = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(doc, default_specification=DRAFT7)
    )
    ref = doc["components"]["messages"][message]["payload"]["$ref"]
    return Draft7Validator({"$ref": "urn:asyncapi" + ref}, registry=registry)


def _messages(channel: str) -> list[str]:
    refs = asyncapi.document()["channels"][channel]["messages"]
    return [ref["$ref"].rsplit("/", 1)[-1] for ref in refs.values()]


def test_every_message_of_every_channel_has_an_example() -> None:
    missing = []
    for channel in topics.CHANNELS:
        mine = [name for name in EXAMPLES if name.split(".", 1)[0] == channel.name]
        for message in _messages(channel.name):
            if not any(_validator(message).is_valid(load(f"mqtt/{n}")) for n in mine):
                missing.append(f"{channel.name}: {message}")
    assert missing == [], "add an example under tests/events/mqtt/ for each of these"
    assert {n.split(".", 1)[0] for n in EXAMPLES} <= {c.name for c in topics.CHANNELS}


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_is_valid_against_its_channel(name: str) -> None:
    channel = name.split(".", 1)[0]
    example = load(f"mqtt/{name}")
    assert any(_validator(m).is_valid(example) for m in _messages(channel)), name


def _parsed(channel: str, example: dict[str, Any]) -> object:
    """What the cloud makes of the example, with the code it uses for that channel."""
    import json

    from chalicelib.domain import fleet, recycling
    from chalicelib.events import intake

    raw = json.dumps(example).encode("utf-8")
    received = datetime(2026, 11, 25, 1, 15, 5, tzinfo=UTC)
    if channel == topics.DEPOSITS.name:
        return intake.deposit_payload("robot-001", raw, received)
    if channel in (topics.ROBOT_STATUS.name, topics.SHELTER_TELEMETRY.name,
                   topics.SHELTER_STATUS.name, topics.SHADOW_UPDATE_DOCUMENTS.name):  # fmt: skip
        fleet_channel = "shadow" if channel == topics.SHADOW_UPDATE_DOCUMENTS.name else channel
        return intake.report_payload(fleet_channel, "dev-001", raw, received)
    models: dict[str, Any] = {
        topics.SHADOW_UPDATE.name: fleet.ShadowUpdate,
        topics.SHADOW_UPDATE_DELTA.name: fleet.ShadowDelta,
        topics.SHADOW_GET.name: fleet.ShadowGet,
        topics.SHADOW_GET_ACCEPTED.name: fleet.ShadowAccepted,
    }
    if channel == topics.DEPOSIT_ACK.name:
        ack = recycling.DepositAck(**example)
        assert ack.as_message() == example  # the cloud builds exactly this message
        return ack
    return models[channel].model_validate(example)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_is_read_by_the_clouds_own_code(name: str) -> None:
    from chalicelib.domain.inbound import Refusal

    parsed = _parsed(name.split(".", 1)[0], load(f"mqtt/{name}"))
    assert not isinstance(parsed, Refusal), parsed
