"""DynamoDB adapter for the device registry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from chalicelib.adapters.dynamodb_models import Device


class DynamoDbDevices:
    """The device registry: written from fleet data and device registration. Deposits read
    a robot's row in their first BatchGetItem (chalicelib.adapters.dynamodb_ledger)."""

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
