"""moto 5.2.5's answers for DynamoDB and DynamoDB Streams, written at what JSON costs.

moto builds every DynamoDB and DynamoDB Streams answer through its model-driven response
serializer, which looks up each value of each item through an attribute picker (up to six
alias providers, a snake_case variant of every name, a path push and pop) to cope with
answers held as Python objects. DynamoDB's answers are plain dicts already in their wire
form (moto's `DynamoResult` turns items into attribute-value JSON first), so on the local
stack under load that walk was most of a BatchGetItem, and GetRecords cost 13 ms a poll,
1 ms a stream record: about a third of the emulator's CPU.

`install()` (idempotent) gives both handlers a `serialized` that walks the same output
shape over plain dicts directly, with the serializer's own conversions (a string as `str`,
integers, floats, moto's epoch-seconds timestamps, base64 blobs) and its rules (a member
that is None is left out, members in the shape's order, a map value that is a None
structure dropped). Whatever is not plain goes to moto's serializer unchanged: an error, a
paginated or custom result, a service with response transformers, a protocol other than
JSON, a value that is not a dict where the shape has a structure or a map, a dict with a
key its shape does not name (moto would look for aliases), prettified output. The guard
test compares both answers on every operation the backend uses.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from enum import Enum
from typing import Any

from botocore.model import OperationNotFoundError, Shape
from moto import settings
from moto.core.responses import ActionResult, BaseResponse
from moto.core.serialize import (
    AttributePicker,
    BaseJSONSerializer,
    ResponseSerializer,
    TimestampSerializer,
)
from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from infra.local import moto_pins

_MARK = "_gimhae_moto_json"
_install_lock = threading.Lock()
HANDLERS: tuple[type[BaseResponse], ...] = (DynamoHandler, DynamoDBStreamsHandler)

# sha256 (first 16 hex digits) of the source of what the plain walk reproduces: the
# serializer's handling of each shape type, how it picks a dict's value, its timestamps and
# blobs, and the result types and the `serialized` it stands in for.
EXPECTED_SOURCES: dict[str, str] = {
    "BaseResponse.serialized": "af486a0ef1327162",
    "ActionResult.execute_result": "6333faa349b58671",
    "DynamoResult.__init__": "e2394775cd5ef6ad",
    "ResponseSerializer._serialize": "4eccca5bf02593ef",
    "ResponseSerializer._serialize_type_structure": "f9b47068f40ce489",
    "ResponseSerializer._serialize_structure_member": "437fdce43aa5ac84",
    "ResponseSerializer._default_serialize": "25ce8ddbb1a991c0",
    "ResponseSerializer._serialize_type_timestamp": "d7a3cfcabffc13b1",
    "ResponseSerializer._serialize_type_blob": "acd7e746cf06090e",
    "ResponseSerializer._serialize_type_integer": "57e0b6b7148e79eb",
    "ResponseSerializer._serialize_type_float": "24c40ea849f6e0dc",
    "ResponseSerializer._base64": "5a3642d8c2a14b24",
    "BaseJSONSerializer._serialize_type_map": "faa32d1fa9a8bfc9",
    "BaseJSONSerializer._serialize_type_list": "f87b14fe9166e099",
    "BaseJSONSerializer._serialize_type_structure": "36873909cd0aeb4d",
    "BaseJSONSerializer._serialize_type_string": "44954e02145012ba",
    "BaseJSONSerializer._serialized_result_to_response": "99acea02e74ab1c4",
    "BaseJSONSerializer._get_protocol_specific_content_type": "5ddd9df82bc13c06",
    "AttributePicker.__call__": "c15da8ec29c1afa4",
    "TimestampSerializer._convert_timestamp_to_str": "b96950ef0449b890",
}


def _pinned() -> dict[str, Any]:
    def named(owner: Any, *names: str) -> dict[str, Any]:
        return {f"{owner.__name__}.{name}": getattr(owner, name) for name in names}

    return {
        **named(BaseResponse, "serialized"),
        **named(ActionResult, "execute_result"),
        **named(DynamoResult, "__init__"),
        **named(
            ResponseSerializer,
            "_serialize",
            "_serialize_type_structure",
            "_serialize_structure_member",
            "_default_serialize",
            "_serialize_type_timestamp",
            "_serialize_type_blob",
            "_serialize_type_integer",
            "_serialize_type_float",
            "_base64",
        ),
        **named(
            BaseJSONSerializer,
            "_serialize_type_map",
            "_serialize_type_list",
            "_serialize_type_structure",
            "_serialize_type_string",
            "_serialized_result_to_response",
            "_get_protocol_specific_content_type",
        ),
        **named(AttributePicker, "__call__"),
        **named(TimestampSerializer, "_convert_timestamp_to_str"),
    }


def check() -> list[str]:
    """What differs from the moto this patch was written against (empty: nothing)."""
    return moto_pins.differences(_pinned(), EXPECTED_SOURCES)


class _NotPlain(Exception):
    """The value needs moto's serializer."""


_TIMESTAMPS = TimestampSerializer(BaseJSONSerializer.DEFAULT_TIMESTAMP_FORMAT)


def _name(shape: Shape, key: str) -> str:
    return str(shape.serialization.get("name", key))


def _structure(value: Any, shape: Any) -> Any:
    if shape.is_document_type:
        return value
    if type(value) is not dict:
        raise _NotPlain
    members = shape.members
    if not value.keys() <= members.keys():
        raise _NotPlain
    out: dict[str, Any] = {}
    for key, member in members.items():
        member_value = value.get(key)
        if member_value is not None:
            out[_name(member, key)] = _plain(member_value, member)
    return out


def _list(value: Any, shape: Any) -> list[Any]:
    if type(value) is not list:
        raise _NotPlain
    member = shape.member
    return [None if item is None else _plain(item, member) for item in value]


def _map(value: Any, shape: Any) -> dict[str, Any]:
    if type(value) is not dict or "name" in shape.value.serialization:
        raise _NotPlain
    member = shape.value
    if member.type_name == "structure":  # a None structure sets nothing: its key is dropped
        return {k: _plain(v, member) for k, v in value.items() if v is not None}
    return {k: None if v is None else _plain(v, member) for k, v in value.items()}


def _string(value: Any, shape: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    return str(value) if value not in [None, {}, []] else value


def _timestamp(value: Any, shape: Any) -> Any:
    return _TIMESTAMPS._convert_timestamp_to_str(
        value, shape.serialization.get("timestampFormat", _TIMESTAMPS.default_format)
    )


def _blob(value: Any, shape: Any) -> str:
    raw = value.encode(ResponseSerializer.DEFAULT_ENCODING) if isinstance(value, str) else value
    return base64.b64encode(raw).strip().decode(ResponseSerializer.DEFAULT_ENCODING)


_BY_TYPE: dict[str, Callable[[Any, Any], Any]] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "timestamp": _timestamp,
    "blob": _blob,
    "integer": lambda value, shape: int(value),
    "long": lambda value, shape: int(value),
    "float": lambda value, shape: float(value),
    "double": lambda value, shape: float(value),
}


def _plain(value: Any, shape: Any) -> Any:
    convert = _BY_TYPE.get(shape.type_name)
    return value if convert is None else convert(value, shape)


def answer(handler: BaseResponse, action_result: ActionResult) -> Any:
    """(status, headers, body) of a plain result, or None for moto's serializer."""
    if type(action_result) not in (ActionResult, DynamoResult) or settings.PRETTIFY_RESPONSES:
        return None
    result = action_result.result
    if isinstance(result, Exception) or getattr(handler, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None):
        return None
    service_model = get_service_model(handler.boto3_service_name)
    try:
        operation_model = service_model.operation_model(handler._get_action())
    except OperationNotFoundError:
        return None
    if handler.determine_response_protocol(service_model) != "json":
        return None
    shape = operation_model.output_shape
    try:
        body = {} if shape is None else _structure(result, shape)
    except _NotPlain:
        return None
    version = service_model.metadata.get("jsonVersion", "1.0")
    headers = {"Content-Type": f"application/x-amz-json-{version}", **handler.response_headers}
    return operation_model.http.get("responseCode", 200), headers, json.dumps(body)


def _serialized(moto_serialized: Callable[..., Any]) -> Callable[..., Any]:
    def serialized(self: BaseResponse, action_result: ActionResult) -> Any:
        plain = answer(self, action_result)
        return moto_serialized(self, action_result) if plain is None else plain

    setattr(serialized, _MARK, moto_serialized)
    return serialized


def installed() -> bool:
    return all(_MARK in vars(handler) for handler in HANDLERS)


def install() -> None:
    with _install_lock:
        consequence = "moto's serializer answers DynamoDB"
        if installed() or not moto_pins.still_fits(__name__, consequence, check()):
            return
        for handler in HANDLERS:
            handler.serialized = _serialized(BaseResponse.serialized)  # type: ignore[method-assign]
            setattr(handler, _MARK, True)


def uninstall() -> None:
    with _install_lock:
        for handler in HANDLERS:
            if _MARK in vars(handler):
                del handler.serialized
                delattr(handler, _MARK)
