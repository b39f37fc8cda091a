"""The device contract's MQTT topics (docs/design.md §3): one place for devices, cloud and
broker. `CHANNELS` is the contract's table (address, QoS, what it carries), from which the
AsyncAPI document is generated (chalicelib.api.asyncapi); who may publish or receive each
topic is iot/policies.py's, and the functions below spell each address for one device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_CITY = "gimhae"

LAST_WILL: Final = {"online": False}
"""The MQTT last will every device sets on its status topic (QoS 1): the cloud marks it
offline at once when the broker publishes it."""


@dataclass(frozen=True)
class Channel:
    """One topic of the device contract. `address` holds `{city}` and `{device_id}`; who
    publishes it (`sender`) and who reads it (`receiver`): `robot`, `shelter` or `cloud`
    (IoT Core, its shadow service and the cloud's topic rules; iot/policies.py grants the
    devices' side, and a test holds the two together); `qos` lists the QoS levels it may be
    published with, the first being what our devices and the cloud use."""

    name: str
    address: str
    sender: str
    receiver: str
    qos: tuple[int, ...]
    summary: str

    def topic(self, city: str, device_id: str) -> str:
        return self.address.format(city=city, device_id=device_id)


DEPOSITS = Channel(
    "robot_deposits",
    "{city}/robots/{device_id}/deposits",
    "robot",
    "cloud",
    (1,),
    "A robot's deposit: who deposited and the items it accepted. The robot resends the same "
    "event_id until it sees the ack.",
)
DEPOSIT_ACK = Channel(
    "robot_deposit_ack",
    "{city}/robots/{device_id}/deposits/ack",
    "cloud",
    "robot",
    (1,),
    "The cloud's answer to one deposit, once it is settled: credited, duplicate or rejected.",
)
ROBOT_STATUS = Channel(
    "robot_status",
    "{city}/robots/{device_id}/status",
    "robot",
    "cloud",
    (1,),
    "A robot's presence, bin levels (0..1) and fault, at least once a minute; its last will.",
)
SHELTER_TELEMETRY = Channel(
    "shelter_telemetry",
    "{city}/shelters/{device_id}/telemetry",
    "shelter",
    "cloud",
    (1, 0),
    "A shelter's readings: fine dust, climate, CO2, occupancy and chargers.",
)
SHELTER_STATUS = Channel(
    "shelter_status",
    "{city}/shelters/{device_id}/status",
    "shelter",
    "cloud",
    (1,),
    "A shelter's presence and fault, at least once a minute; its last will.",
)
SHADOW_UPDATE = Channel(
    "shadow_update",
    "$aws/things/{device_id}/shadow/update",
    "shelter",
    "cloud",
    (1,),
    "A shelter reports the purifier mode it runs (`state.reported`).",
)
SHADOW_UPDATE_DELTA = Channel(
    "shadow_update_delta",
    "$aws/things/{device_id}/shadow/update/delta",
    "cloud",
    "shelter",
    (1,),
    "What the shadow desires that the shelter has not reported yet: the purifier mode to run.",
)
SHADOW_GET = Channel(
    "shadow_get",
    "$aws/things/{device_id}/shadow/get",
    "shelter",
    "cloud",
    (1,),
    "A shelter asks for its whole shadow (on every connect).",
)
SHADOW_GET_ACCEPTED = Channel(
    "shadow_get_accepted",
    "$aws/things/{device_id}/shadow/get/accepted",
    "cloud",
    "shelter",
    (1,),
    "The whole shadow, answering a get: desired, reported and their delta.",
)
SHADOW_UPDATE_DOCUMENTS = Channel(
    "shadow_update_documents",
    "$aws/things/{device_id}/shadow/update/documents",
    "cloud",
    "cloud",
    (1,),
    "The shadow service's record of each accepted update (previous and current documents); "
    "the cloud's topic rule reads it to learn what a shelter runs.",
)

CHANNELS: Final = (
    DEPOSITS,
    DEPOSIT_ACK,
    ROBOT_STATUS,
    SHELTER_TELEMETRY,
    SHELTER_STATUS,
    SHADOW_UPDATE,
    SHADOW_UPDATE_DELTA,
    SHADOW_GET,
    SHADOW_GET_ACCEPTED,
    SHADOW_UPDATE_DOCUMENTS,
)


def deposits(city: str, device_id: str) -> str:
    return DEPOSITS.topic(city, device_id)


def deposit_ack(city: str, device_id: str) -> str:
    return DEPOSIT_ACK.topic(city, device_id)


def robot_status(city: str, device_id: str) -> str:
    return ROBOT_STATUS.topic(city, device_id)


def shelter_telemetry(city: str, device_id: str) -> str:
    return SHELTER_TELEMETRY.topic(city, device_id)


def shelter_status(city: str, device_id: str) -> str:
    return SHELTER_STATUS.topic(city, device_id)


def shadow(device_id: str, suffix: str = "") -> str:
    base = f"$aws/things/{device_id}/shadow"
    return f"{base}/{suffix}" if suffix else base


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (+ and #), as brokers and IoT Core's rules apply it.

    A filter whose first level is a wildcard does not match `$` topics (shadows, lifecycle),
    and `a/#` also matches `a` itself.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)
