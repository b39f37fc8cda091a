"""DynamoDB adapter for the device registry."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.dynamodb_models import Device

CACHE_SECONDS = 60.0


class DynamoDbDevices:
    """Registered devices. Lookups are cached briefly per container: the fleet rarely changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, str | None]] = {}

    def device_type(self, device_id: str) -> str | None:
        cached = self._cache.get(device_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            found: str | None = Device.get(device_id).device_type
        except DoesNotExist:
            found = None
        self._cache[device_id] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    @staticmethod
    def register(devices: Iterable[dict[str, object]], now: datetime) -> int:
        """Write (or refresh) devices from fleet data; returns how many."""
        count = 0
        with Device.batch_write() as batch:
            for spec in devices:
                location = spec["location"]
                assert isinstance(location, dict)
                batch.save(
                    Device(
                        str(spec["device_id"]),
                        device_type=str(spec["type"]),
                        name=str(spec["name"]),
                        district=str(spec["district"]),
                        lat=float(location["lat"]),
                        lon=float(location["lon"]),
                        registered_at=now,
                    )
                )
                count += 1
        return count
