"""IoT data-plane adapter: the shelters' shadows (DESIGN §4: `{"purifier": ...}`)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws_clients
from chalicelib.domain.purifier import ShadowUnreachable


class IotShadows:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def desire_purifier(self, device_id: str, mode: str) -> None:
        """Set the classic shadow's desired purifier mode; the shelter gets the delta.
        ShadowUnreachable when the data plane refuses or cannot be reached."""
        from chalicelib.domain.fleet import ShadowUpdate

        client = self._client or aws_clients.iot_data()
        update = ShadowUpdate.desire(mode)  # type: ignore[arg-type]  # a mode the service checked
        try:
            client.update_thing_shadow(
                thingName=device_id,
                payload=update.model_dump_json(exclude_none=True).encode("utf-8"),
            )
        except (BotoCoreError, ClientError) as e:
            raise ShadowUnreachable(f"{device_id}: {e}") from e
