"""IoT policies per device type: the one source for AWS IoT and for the local broker's ACL.

Each statement names MQTT actions on resources written with the policy variable
`${iot:Connection.Thing.ThingName}`, so one policy serves every thing of a type and a device
can only act as itself. The local stack translates these statements into mosquitto ACL lines.
"""

from __future__ import annotations

from typing import Any

from iot.iot_names import policy_name as policy_name  # the names live in iot/iot_names.py

THING = "${iot:Connection.Thing.ThingName}"

# (action, kind, topic pattern) where kind is "topic" (publish/receive) or "topicfilter"
# (subscribe). Patterns use {city} and the thing-name variable.
# A device asks the shadow service (update, get, delete: its classic shadow and named ones)
# and hears every answer; it never publishes on the service's own reply topics (accepted,
# rejected, delta, documents), which rules and other subscribers trust as the service's word.
SHADOW_REQUESTS: tuple[str, ...] = ("update", "get", "delete")
_COMMON: list[tuple[str, str]] = [
    *(("publish", f"$aws/things/{THING}/shadow/{op}") for op in SHADOW_REQUESTS),
    *(("publish", f"$aws/things/{THING}/shadow/name/*/{op}") for op in SHADOW_REQUESTS),
    ("subscribe", f"$aws/things/{THING}/shadow/*"),
    ("receive", f"$aws/things/{THING}/shadow/*"),
]

DEVICE_TOPICS: dict[str, list[tuple[str, str]]] = {
    "robot": [
        ("publish", "{city}/robots/" + THING + "/deposits"),
        ("publish", "{city}/robots/" + THING + "/status"),
        ("subscribe", "{city}/robots/" + THING + "/deposits/ack"),
        ("receive", "{city}/robots/" + THING + "/deposits/ack"),
        *_COMMON,
    ],
    "shelter": [
        ("publish", "{city}/shelters/" + THING + "/telemetry"),
        ("publish", "{city}/shelters/" + THING + "/status"),
        *_COMMON,
    ],
}

DEVICE_TYPES = tuple(DEVICE_TOPICS)


def policy_document(
    device_type: str, city: str, region: str = "*", account: str = "*"
) -> dict[str, Any]:
    """The IoT policy for a device type, as AWS IoT expects it."""
    arn = f"arn:aws:iot:{region}:{account}"
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": [f"{arn}:client/{THING}"],
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
        }
    ]
    by_action: dict[str, list[str]] = {}
    for action, pattern in DEVICE_TOPICS[device_type]:
        kind = "topicfilter" if action == "subscribe" else "topic"
        topic = pattern.replace("{city}", city)
        by_action.setdefault(action, []).append(f"{arn}:{kind}/{topic}")
    for action, resources in by_action.items():
        statements.append(
            {"Effect": "Allow", "Action": [f"iot:{action.capitalize()}"], "Resource": resources}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def device_topic_grants(device_type: str, city: str, device_id: str) -> list[tuple[str, str]]:
    """(action, MQTT topic filter) pairs a device holds, with its own id substituted.

    The IoT wildcard `*` at the end of a resource becomes the MQTT multi-level `#`; a `*`
    that is a whole level inside it (a shadow's name) becomes the single-level `+`.
    """
    grants = []
    for action, pattern in DEVICE_TOPICS[device_type]:
        topic = pattern.replace("{city}", city).replace(THING, device_id)
        if topic.endswith("/*"):
            topic = topic[:-1] + "#"
        topic = topic.replace("/*/", "/+/")
        grants.append((action, topic))
    return grants
