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
