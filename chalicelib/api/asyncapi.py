"""The device contract's AsyncAPI 3.0 document, generated from the code: nothing here is
written twice, so nothing can drift.

- Topics, who sends and who reads each, QoS: `chalicelib.topics.CHANNELS` (the devices'
  grants in iot/policies.py and the topic rules in iot/rules/ are held to it by tests).
- Payloads: the pydantic models the cloud parses device messages with (chalicelib.domain.
  recycling, chalicelib.domain.fleet) and builds its answers through (the deposit ack, the
  shadow's desired state), as JSON Schema; the ack's statuses and reasons are their Literals.
- The last will: `topics.LAST_WILL`; the size limit: `chalicelib.events.intake`.

Operations are written from the device's point of view: `send` is what a robot or shelter
publishes, `receive` what it subscribes to. Served at `GET /v1/asyncapi.json`; nothing of
this module is imported at cold start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter

from chalicelib import topics
from chalicelib.domain import fleet, recycling
from chalicelib.events.intake import DEVICE_ID_PATTERN, MAX_PAYLOAD_BYTES

ASYNCAPI_VERSION = "3.0.0"
MQTT_BINDING = "0.2.0"
DEVICES = ("robot", "shelter")

_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Message:
    """One kind of message a channel carries: its name, what it is, and its payload's
    schema source (a model, a union of models, or a function making the schema)."""

    name: str
    summary: str
    payload: Any


def _last_will_schema(schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "LastWill",
        "description": "The MQTT last will a device sets on its status topic when it "
        "connects; the broker publishes it when the device drops. It carries no `ts`: "
        "the cloud's receipt time stands in for it.",
        "type": "object",
        "required": sorted(topics.LAST_WILL),
        "properties": {key: {"const": value} for key, value in topics.LAST_WILL.items()},
        "additionalProperties": False,
    }


def _shelter_status_schema(schemas: dict[str, Any]) -> dict[str, Any]:
    _add_schema(schemas, fleet.StatusMessage)
    return {
        "title": "ShelterStatusMessage",
        "description": "A shelter's status: the robot's shape without `bins` (a shelter "
        "sending bins is refused as `invalid_payload`).",
        "allOf": [
            {"$ref": _REF.format(model="StatusMessage")},
            {"properties": {"bins": {"type": "null"}}},
        ],
    }


_LAST_WILL = Message("last_will", "The device's last will: it went offline.", _last_will_schema)

MESSAGES: dict[str, tuple[Message, ...]] = {
    topics.DEPOSITS.name: (
        Message(
            "deposit",
            "A deposit: the citizen by one-time code or by phone number, the items.",
            recycling.Deposit,
        ),
    ),
    topics.DEPOSIT_ACK.name: (
        Message(
            "deposit_ack",
            "The ack: `credited`, `duplicate` or `rejected` with its reason.",
            recycling.AckMessage,
        ),
    ),
    topics.ROBOT_STATUS.name: (
        Message("robot_status", "Presence, bin levels, fault, firmware.", fleet.StatusMessage),
        _LAST_WILL,
    ),
    topics.SHELTER_TELEMETRY.name: (
        Message(
            "shelter_telemetry", "Readings; every one optional but `ts`.", fleet.TelemetryMessage
        ),
    ),
    topics.SHELTER_STATUS.name: (
        Message("shelter_status", "Presence, fault, firmware.", _shelter_status_schema),
        _LAST_WILL,
    ),
    topics.SHADOW_UPDATE.name: (
        Message("shadow_report", "The purifier mode the shelter runs.", fleet.ShadowUpdate),
    ),
    topics.SHADOW_UPDATE_DELTA.name: (
        Message("shadow_delta", "The purifier mode the cloud desires.", fleet.ShadowDelta),
    ),
    topics.SHADOW_GET.name: (
        Message("shadow_get", "A request for the whole shadow.", fleet.ShadowGet),
    ),
    topics.SHADOW_GET_ACCEPTED.name: (
        Message("shadow_document", "The whole shadow.", fleet.ShadowAccepted),
    ),
    topics.SHADOW_UPDATE_DOCUMENTS.name: (
        Message(
            "shadow_documents",
            "The shadow before and after an accepted update.",
            fleet.ShadowDocuments,
        ),
    ),
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "city": {
        "description": "The city's topic prefix (the deployment's `CITY`).",
        "default": topics.DEFAULT_CITY,
        "examples": [topics.DEFAULT_CITY],
    },
    "device_id": {
        "description": "The device's IoT thing name, which is also its MQTT client id and "
        "its certificate's identity. A device may publish and subscribe only under its own "
        f"id; the cloud takes it from the topic, never from the payload ({DEVICE_ID_PATTERN}).",
        "examples": ["robot-001", "shelter-001"],
    },
}

_DESCRIPTION = f"""\
The MQTT contract between the city's devices (recycling robots, smart shelters) and the
cloud (AWS IoT Core; locally, mosquitto with the local stack's emulation of IoT Core).

- Point of view: every operation is the **device's**. `send` is what a robot or a shelter
  publishes, `receive` what it subscribes to. Each channel also says who sends and who reads
  it (`x-direction`) and the QoS levels it may be published with (`x-qos`; the operation's
  MQTT binding gives the one our devices and the cloud use).
- Identity: mutual TLS with the device's own certificate (X.509); the client id is the thing
  name, and a device may publish and subscribe only under its own `{{device_id}}`.
- Payloads are UTF-8 JSON objects of at most {MAX_PAYLOAD_BYTES // 1024} KB
  ({MAX_PAYLOAD_BYTES} bytes); times are RFC 3339 with an offset. A payload the cloud
  cannot believe is kept in quarantine with its reason (operators see it); a deposit is
  always answered on its ack.
- Presence: a device sends its status (or telemetry) at least once a minute and sets its
  last will (`{json.dumps(topics.LAST_WILL)}`, QoS 1) on its status topic; silent for
  {fleet.SILENT_AFTER.seconds // 60} minutes, it is marked offline.
- The shadow topics are AWS IoT's standard classic-shadow topics; the shelter's state is
  `{{"purifier": "auto"|"high"|"off"}}`: the cloud sets `desired`, the shelter reports what it
  runs.

Generated from the code (chalicelib/topics.py and the payload models); the design is
docs/design.md §3."""


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document (a copy the caller may change)."""
    copied: dict[str, Any] = json.loads(json.dumps(_document()))
    return copied


@cache
def _document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in topics.CHANNELS:
        refs: dict[str, Any] = {}
        for message in MESSAGES[channel.name]:
            schema_name = _add_schema(schemas, message.payload)
            messages.setdefault(
                message.name,
                {
                    "name": message.name,
                    "title": schema_name,
                    "summary": message.summary,
                    "contentType": "application/json",
                    "payload": {"$ref": _REF.format(model=schema_name)},
                    "bindings": {
                        "mqtt": {"payloadFormatIndicator": 1, "bindingVersion": MQTT_BINDING}
                    },
                },
            )
            refs[message.name] = {"$ref": f"#/components/messages/{message.name}"}
        channels[channel.name] = {
            "address": channel.address,
            "title": channel.address,
            "summary": channel.summary,
            "parameters": {
                name: dict(spec)
                for name, spec in _PARAMETERS.items()
                if "{" + name + "}" in channel.address
            },
            "messages": refs,
            "x-direction": f"{channel.sender} -> {channel.receiver}",
            "x-qos": list(channel.qos),
        }
        operation = _operation(channel, refs)
        if operation is not None:
            operations[f"{operation['action']}_{channel.name}"] = operation
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Gimhae Smart City device contract (MQTT)",
            "version": "1",
            "description": _DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {"aws": _aws_server(), "local": _local_server()},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
            "securitySchemes": {
                "deviceCertificate": {
                    "type": "X509",
                    "description": "Mutual TLS: the device's certificate, registered with "
                    "IoT Core and attached to its thing (locally, issued by the stack's "
                    "CA with the thing name as its CN).",
                }
            },
        },
    }


def _aws_server() -> dict[str, Any]:
    return {
        "host": "{endpoint}:8883",
        "protocol": "secure-mqtt",
        "protocolVersion": "5",
        "description": "AWS IoT Core's data endpoint (MQTT 5 or 3.1.1 over TLS).",
        "variables": {
            "endpoint": {
                "description": "The account's IoT data endpoint: `aws iot describe-endpoint "
                "--endpoint-type iot:Data-ATS`."
            }
        },
        "security": [{"$ref": "#/components/securitySchemes/deviceCertificate"}],
        "bindings": {
            "mqtt": {
                "lastWill": {
                    "topic": "{city}/{robots|shelters}/{device_id}/status",
                    "qos": 1,
                    "message": json.dumps(topics.LAST_WILL),
                    "retain": False,
                },
                "bindingVersion": MQTT_BINDING,
            }
        },
    }


def _local_server() -> dict[str, Any]:
    server = {key: value for key, value in _aws_server().items() if key != "variables"}
    return {
        **server,
        "host": "127.0.0.1:8883",
        "description": "The local stack's broker (mosquitto; another port with `./dev up "
        "--mqtt-port`), with certificates from the stack's own CA (`.local/certs/ca.pem`).",
    }


def _operation(channel: topics.Channel, refs: dict[str, Any]) -> dict[str, Any] | None:
    """The device's operation on a channel: `send` when a device publishes it, `receive`
    when one reads it; None for a channel between parts of the cloud."""
    if channel.sender in DEVICES:
        action, device = "send", channel.sender
    elif channel.receiver in DEVICES:
        action, device = "receive", channel.receiver
    else:
        return None
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel.name}"},
        "summary": f"The {device} {action}s: {channel.summary}",
        "messages": [{"$ref": f"#/channels/{channel.name}/messages/{name}"} for name in refs],
        "bindings": {"mqtt": {"qos": channel.qos[0], "bindingVersion": MQTT_BINDING}},
        "tags": [{"name": device}],
    }


def _add_schema(schemas: dict[str, Any], source: Any) -> str:
    """Put a payload's JSON Schema (and the schemas it refers to) into `schemas`; its name."""
    if callable(source) and not isinstance(source, type):  # a schema made here
        schema = source(schemas)
        name = str(schema["title"])
        schemas[name] = schema
        return name
    if isinstance(source, type) and issubclass(source, BaseModel):
        name = source.__name__
        schema = source.model_json_schema(ref_template=_REF, mode="validation")
    else:  # a union: the ack's two shapes
        name = "DepositAck"
        schema = TypeAdapter(source).json_schema(ref_template=_REF, mode="serialization")
        schema["title"] = name
        schema["description"] = (
            "One ack per deposit: `credited` or `duplicate` with its points and balance "
            "(and `reason: daily_limit` when some items were over the day's limit), or "
            "`rejected` with its reason. A redelivered event gets the same answer again."
        )
    schemas.update(schema.pop("$defs", {}))
    schemas[name] = schema
    return name
