"""Device shadows as AWS IoT Core shapes them: the reserved shadow topics, the checks AWS
makes on an update that moto skips, and the documents published on ``update/documents``
and ``update/delta``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from moto.iotdata.exceptions import ConflictException, InvalidRequestException
from moto.iotdata.models import FakeShadow

SHADOW_REQUEST_FILTERS: tuple[str, ...] = tuple(
    f"$aws/things/+/shadow/{infix}{op}"
    for infix in ("", "name/+/")
    for op in ("update", "get", "delete")
)

_MAX_CLIENT_TOKEN_BYTES = 64  # AWS: longer tokens are a 400 "Invalid clientToken"
SHADOW_QOS = 1


def shadow_topic_prefix(thing_name: str, shadow_name: str | None = None) -> str:
    """``$aws/things/{thing}/shadow`` or ``$aws/things/{thing}/shadow/name/{name}``."""
    prefix = f"$aws/things/{thing_name}/shadow"
    return f"{prefix}/name/{shadow_name}" if shadow_name else prefix


@dataclass(frozen=True)
class ShadowRequest:
    thing_name: str
    shadow_name: str | None
    operation: str  # "update" | "get" | "delete"

    @property
    def prefix(self) -> str:
        return shadow_topic_prefix(self.thing_name, self.shadow_name)


def parse_shadow_request_topic(topic: str) -> ShadowRequest | None:
    """The request a device-side shadow topic stands for, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) not in (5, 7) or parts[0] != "$aws" or parts[1] != "things":
        return None
    if parts[3] != "shadow" or parts[-1] not in ("update", "get", "delete") or not parts[2]:
        return None
    if len(parts) == 5:
        return ShadowRequest(parts[2], None, parts[4])
    if parts[4] != "name" or not parts[5]:
        return None
    return ShadowRequest(parts[2], parts[5], parts[6])


def validate_update(payload: Any, previous: FakeShadow | None) -> dict[str, Any] | None:
    """Checks moto skips (and would answer with a 500); None if the payload is not JSON."""
    try:
        request = json.loads(payload)
    except (ValueError, TypeError):
        return None  # moto answers 400 "invalid json"
    if not isinstance(request, dict):
        raise InvalidRequestException("Payload contains invalid json")
    state = request.get("state")
    if isinstance(state, dict):
        for section in ("desired", "reported"):
            value = state.get(section)
            if value is not None and not isinstance(value, dict):
                raise InvalidRequestException(f"{section.capitalize()} node must be an object")
    token = request.get("clientToken")
    if "clientToken" in request and (
        not isinstance(token, str) or len(token.encode()) > _MAX_CLIENT_TOKEN_BYTES
    ):
        raise InvalidRequestException("Invalid clientToken")
    if "version" in request:
        version = request["version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidRequestException("Invalid version")
        if previous is None:
            # moto dereferences the missing shadow (AttributeError -> 500).
            raise ConflictException("Version conflict")
    return request


def apply_null_sections(shadow: FakeShadow, request: dict[str, Any]) -> None:
    """AWS removes a section sent as null (``"desired": null``); moto keeps it."""
    state = request.get("state")
    if not isinstance(state, dict):
        return
    if "desired" in state and state["desired"] is None:
        shadow.desired = None
        shadow.metadata_desired = None
    if "reported" in state and state["reported"] is None:
        shadow.reported = None
        shadow.metadata_reported = None


def documents_entry(shadow: FakeShadow | None) -> dict[str, Any] | None:
    if shadow is None or shadow.deleted:
        return None
    document = shadow.to_dict(include_delta=False)
    return {
        "state": document["state"],
        "metadata": document["metadata"],
        "version": document["version"],
    }


def delta_metadata(delta: Any, desired: Any, metadata: Any) -> Any:
    """The desired metadata restricted to the delta's fields (AWS: equal to desired's)."""
    if not isinstance(delta, dict) or not isinstance(metadata, dict):
        return metadata
    result: dict[str, Any] = {}
    for key, value in delta.items():
        if key not in metadata:
            continue
        desired_value = desired.get(key) if isinstance(desired, dict) else None
        if isinstance(value, dict) and isinstance(desired_value, dict):
            result[key] = delta_metadata(value, desired_value, metadata[key])
        else:
            result[key] = metadata[key]
    return result
