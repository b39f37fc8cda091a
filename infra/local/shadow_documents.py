"""Device shadows as AWS IoT Core shapes them: the reserved shadow topics, the checks AWS
makes on an update that moto skips, and the documents published on ``update/documents``
and ``update/delta``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from moto.iotdata.exceptions import (
    ConflictException,
    InvalidRequestException,
    IoTDataPlaneClientError,
)
from moto.iotdata.models import FakeShadow

from chalicelib.domain import json_limits

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


# AWS IoT Device Shadow limits (service quotas and error messages): a request is an MQTT
# message (128 KB at most); desired and reported together hold at most 8 KB (metadata not
# counted); each of them nests at most 6 levels, the section's own object being the first.
MAX_REQUEST_BYTES = 128 * 1024
MAX_STATE_BYTES = 8 * 1024
MAX_SECTION_DEPTH = 6
_MAX_DOCUMENT_DEPTH = 2 + MAX_SECTION_DEPTH  # the request, `state`, then a section's levels
TOO_LARGE = "The payload exceeds the maximum size allowed"
TOO_DEEP = f"JSON contains too many levels of nesting; maximum is {MAX_SECTION_DEPTH}"
INVALID_JSON = "Invalid JSON"
NOT_UTF8 = "Unsupported documented encoding; supported encoding is UTF-8"


class ShadowRejected(Exception):
    """A request the shadow service refuses: AWS's HTTP-like code and its message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class _TooLarge(IoTDataPlaneClientError):
    def __init__(self, message: str) -> None:
        self.code = 413
        super().__init__("RequestEntityTooLargeException", message)


class _NotUtf8(IoTDataPlaneClientError):
    def __init__(self, message: str) -> None:
        self.code = 415
        super().__init__("UnsupportedDocumentEncodingException", message)


def parse_request(payload: bytes | str) -> Any:
    """A request's JSON, parsed only after its size, encoding and nesting were checked, so
    no document can make the parser recurse out of its stack (a 3,000-deep one used to)."""
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    if len(raw) > MAX_REQUEST_BYTES:
        raise ShadowRejected(413, TOO_LARGE)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ShadowRejected(415, NOT_UTF8) from None
    try:
        return json_limits.loads(text, max_depth=_MAX_DOCUMENT_DEPTH, max_bytes=MAX_REQUEST_BYTES)
    except json_limits.JsonRejected as e:
        raise ShadowRejected(400, TOO_DEEP if e.problem == "too_deep" else INVALID_JSON) from e


def state_bytes(shadow: FakeShadow) -> int:
    """What counts toward the 8 KB: desired and reported as compact JSON."""
    return sum(
        len(json.dumps(section, separators=(",", ":")).encode())
        for section in (shadow.desired, shadow.reported)
        if section is not None
    )


def as_moto_error(rejected: ShadowRejected) -> IoTDataPlaneClientError:
    if rejected.code == 413:
        return _TooLarge(rejected.message)
    if rejected.code == 415:
        return _NotUtf8(rejected.message)
    return InvalidRequestException(rejected.message)


def validate_update(payload: Any, previous: FakeShadow | None) -> dict[str, Any] | None:
    """Checks moto skips (and would answer with a 500, or crash on); the limits AWS keeps."""
    try:
        request = parse_request(payload)
    except ShadowRejected as rejected:
        raise as_moto_error(rejected) from None
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
