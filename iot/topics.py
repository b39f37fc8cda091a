"""The device contract's MQTT topics. One source: chalicelib/topics.py (it ships in the
Lambda bundle and depends on nothing), re-exported here for device code."""

from chalicelib.topics import (
    DEFAULT_CITY,
    deposit_ack,
    deposits,
    robot_status,
    shadow,
    shelter_status,
    shelter_telemetry,
    topic_matches,
)

__all__ = [
    "DEFAULT_CITY",
    "deposit_ack",
    "deposits",
    "robot_status",
    "shadow",
    "shelter_status",
    "shelter_telemetry",
    "topic_matches",
]
