"""The device contract's MQTT topics (DESIGN §3): one place for devices, cloud and broker."""

from __future__ import annotations

DEFAULT_CITY = "gimhae"


def deposits(city: str, device_id: str) -> str:
    return f"{city}/robots/{device_id}/deposits"


def deposit_ack(city: str, device_id: str) -> str:
    return f"{city}/robots/{device_id}/deposits/ack"


def robot_status(city: str, device_id: str) -> str:
    return f"{city}/robots/{device_id}/status"


def shelter_telemetry(city: str, device_id: str) -> str:
    return f"{city}/shelters/{device_id}/telemetry"


def shelter_status(city: str, device_id: str) -> str:
    return f"{city}/shelters/{device_id}/status"


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
