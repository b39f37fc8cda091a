"""The IoT data plane of the local stack: moto's iot-data joined to the MQTT broker.

AWS IoT Core delivers what the data plane does to MQTT subscribers, and turns what devices
publish on the reserved shadow topics into shadow operations. moto's ``iot-data`` backend
does neither: ``publish`` only records the message and shadow updates never leave moto.
This module closes both gaps for the local stack:

* :func:`install_iot_data_bridge` patches moto's ``IoTDataPlaneBackend`` (class-level: the
  backend objects are created lazily per account and region) so that an iot-data
  ``Publish`` reaches the broker at the requested QoS, and an accepted shadow update or
  delete publishes AWS's response documents (``update/accepted``, ``update/delta``,
  ``update/documents``, ``delete/accepted``). Broker failures are logged; the moto call
  never fails because of them.
* :class:`ShadowTopicBridge` subscribes, as the backend identity, to the device-side shadow
  request topics (``update``, ``get``, ``delete``, classic and named) and turns each request
  into the iot-data call against moto. Accepted updates and deletes are published by the
  patch (once); ``get/accepted`` and every ``*/rejected`` are published by the bridge.

Both work in one process: the bridge's boto3 calls must reach the moto server in which the
patch is installed (``ThreadedMotoServer`` in the local stack).
"""

from __future__ import annotations

import contextvars
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from moto.iotdata.exceptions import (
    ConflictException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from moto.iotdata.models import FakeShadow, IoTDataPlaneBackend
from moto.iotdata.responses import IoTDataPlaneResponse

log = logging.getLogger(__name__)

__all__ = [
    "CLIENT_TOKEN_HEADER",
    "SHADOW_REQUEST_FILTERS",
    "MqttPort",
    "ShadowRequest",
    "ShadowTopicBridge",
    "install_iot_data_bridge",
    "is_installed",
    "parse_shadow_request_topic",
    "shadow_topic_prefix",
]


class MqttPort(Protocol):
    """What the bridge needs of the backend's MQTT connection (``infra.local.mqtt.BackendMqtt``)."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10) -> None: ...

    def subscribe(
        self, topic_filter: str, callback: Callable[[str, bytes], None], qos: int = 1
    ) -> None: ...


# Header by which the bridge hands a device's clientToken to the delete handler in moto
# (a DeleteThingShadow call has no body, but AWS echoes the token on delete/accepted).
CLIENT_TOKEN_HEADER = "x-local-iot-client-token"

SHADOW_REQUEST_FILTERS: tuple[str, ...] = tuple(
    f"$aws/things/+/shadow/{infix}{op}"
    for infix in ("", "name/+/")
    for op in ("update", "get", "delete")
)

_MAX_CLIENT_TOKEN_BYTES = 64  # AWS: longer tokens are a 400 "Invalid clientToken"
_SHADOW_QOS = 1


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


# --------------------------------------------------------------------------------------
# (1) The patch on moto's iot-data backend
# --------------------------------------------------------------------------------------

# Request-scoped values read by the HTTP layer and used by the backend (same thread).
_request_qos: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "local_iotdata_qos", default=None
)
_request_client_token: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "local_iotdata_client_token", default=None
)

_install_lock = threading.Lock()
# Serialises shadow changes with their messages so that messages leave in version order.
_shadow_lock = threading.RLock()
_installed: _Installation | None = None

_BACKEND_METHODS = ("publish", "update_thing_shadow", "delete_thing_shadow")
_RESPONSE_METHODS = ("publish", "delete_thing_shadow")


@dataclass
class _Installation:
    mqtt: MqttPort
    default_qos: int
    publish_timeout: float
    originals: dict[tuple[type, str], Any]

    def forward(self, topic: str, payload: bytes, qos: int) -> None:
        try:
            self.mqtt.publish(topic, payload, qos=qos, timeout=self.publish_timeout)
        except Exception:
            log.exception("iot-data bridge: publish to %s failed (moto call unaffected)", topic)

    def forward_json(self, topic: str, document: dict[str, Any]) -> None:
        self.forward(topic, json.dumps(document, separators=(",", ":")).encode(), _SHADOW_QOS)


def is_installed() -> bool:
    return _installed is not None


def install_iot_data_bridge(
    mqtt: MqttPort, *, default_qos: int = 1, publish_timeout: float = 5.0
) -> Callable[[], None]:
    """Patch moto's iot-data so that it reaches the broker; returns the uninstall function.

    ``default_qos`` applies when an iot-data ``Publish`` names no QoS (boto3 then sends no
    ``qos`` query parameter; AWS's own default is 0). Only one installation at a time.
    """
    global _installed
    if default_qos not in (0, 1):
        raise ValueError("default_qos must be 0 or 1")
    with _install_lock:
        if _installed is not None:
            raise RuntimeError("the iot-data bridge is already installed")
        originals: dict[tuple[type, str], Any] = {}
        for name in _BACKEND_METHODS:
            originals[(IoTDataPlaneBackend, name)] = IoTDataPlaneBackend.__dict__[name]
        for name in _RESPONSE_METHODS:
            originals[(IoTDataPlaneResponse, name)] = IoTDataPlaneResponse.__dict__[name]
        inst = _Installation(mqtt, default_qos, publish_timeout, originals)
        patches: dict[tuple[type, str], Any] = {
            (IoTDataPlaneBackend, "publish"): _make_backend_publish(inst),
            (IoTDataPlaneBackend, "update_thing_shadow"): _make_backend_update(inst),
            (IoTDataPlaneBackend, "delete_thing_shadow"): _make_backend_delete(inst),
            (IoTDataPlaneResponse, "publish"): _make_response_publish(inst),
            (IoTDataPlaneResponse, "delete_thing_shadow"): _make_response_delete(inst),
        }
        for (cls, name), func in patches.items():
            setattr(cls, name, func)
        _installed = inst

    def uninstall() -> None:
        global _installed
        with _install_lock:
            if _installed is not inst:
                return  # already uninstalled
            for (cls, name), original in inst.originals.items():
                setattr(cls, name, original)
            _installed = None

    return uninstall


def _make_response_publish(inst: _Installation) -> Callable[..., Any]:
    original = inst.originals[(IoTDataPlaneResponse, "publish")]

    def publish(self: IoTDataPlaneResponse) -> Any:
        # moto's response handler drops the qos query parameter; carry it to the backend.
        values = self.querystring.get("qos") or [None]
        raw = values[0]
        qos: int | None = None
        if raw is not None:
            if raw not in ("0", "1"):
                raise InvalidRequestException("qos must be 0 or 1")
            qos = int(raw)
        token = _request_qos.set(qos)
        try:
            return original(self)
        finally:
            _request_qos.reset(token)

    return publish


def _make_response_delete(inst: _Installation) -> Callable[..., Any]:
    original = inst.originals[(IoTDataPlaneResponse, "delete_thing_shadow")]

    def delete_thing_shadow(self: IoTDataPlaneResponse) -> Any:
        token = _request_client_token.set(self.headers.get(CLIENT_TOKEN_HEADER) or None)
        try:
            return original(self)
        finally:
            _request_client_token.reset(token)

    return delete_thing_shadow


def _make_backend_publish(inst: _Installation) -> Callable[..., None]:
    original = inst.originals[(IoTDataPlaneBackend, "publish")]

    def publish(
        self: IoTDataPlaneBackend, topic: str, payload: bytes, qos: int | None = None
    ) -> None:
        original(self, topic=topic, payload=payload)
        if qos is None:
            qos = _request_qos.get()
        if qos is None:
            qos = inst.default_qos
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        inst.forward(topic, data, qos)

    return publish


def _make_backend_update(inst: _Installation) -> Callable[..., FakeShadow]:
    original = inst.originals[(IoTDataPlaneBackend, "update_thing_shadow")]

    def update_thing_shadow(
        self: IoTDataPlaneBackend, thing_name: str, payload: Any, shadow_name: str | None = None
    ) -> FakeShadow:
        with _shadow_lock:
            thing = self.iot_backend.describe_thing(thing_name)  # 404 when not registered
            previous: FakeShadow | None = thing.thing_shadows.get(shadow_name)
            request = _validate_update(payload, previous)
            new_shadow: FakeShadow = original(self, thing_name, payload, shadow_name)
            if request is None:  # moto raised for anything we did not pre-validate
                return new_shadow
            _apply_null_sections(new_shadow, request)
            _publish_update_messages(inst, thing_name, shadow_name, request, previous, new_shadow)
            return new_shadow

    return update_thing_shadow


def _make_backend_delete(inst: _Installation) -> Callable[..., FakeShadow]:
    original = inst.originals[(IoTDataPlaneBackend, "delete_thing_shadow")]

    def delete_thing_shadow(
        self: IoTDataPlaneBackend, thing_name: str, shadow_name: str | None = None
    ) -> FakeShadow:
        with _shadow_lock:
            thing = self.iot_backend.describe_thing(thing_name)
            current: FakeShadow | None = thing.thing_shadows.get(shadow_name)
            if current is not None and current.deleted:
                # moto "deletes" a deleted shadow again (200, version + 1); AWS answers 404.
                raise ResourceNotFoundException()
            new_shadow: FakeShadow = original(self, thing_name, shadow_name)
            document: dict[str, Any] = {
                "version": new_shadow.version,
                "timestamp": new_shadow.timestamp,
            }
            client_token = _request_client_token.get()
            if client_token:
                document["clientToken"] = client_token
            prefix = shadow_topic_prefix(thing_name, shadow_name)
            inst.forward_json(f"{prefix}/delete/accepted", document)
            return new_shadow

    return delete_thing_shadow


def _validate_update(payload: Any, previous: FakeShadow | None) -> dict[str, Any] | None:
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


def _apply_null_sections(shadow: FakeShadow, request: dict[str, Any]) -> None:
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


def _publish_update_messages(
    inst: _Installation,
    thing_name: str,
    shadow_name: str | None,
    request: dict[str, Any],
    previous: FakeShadow | None,
    new_shadow: FakeShadow,
) -> None:
    prefix = shadow_topic_prefix(thing_name, shadow_name)
    client_token = request.get("clientToken")

    def with_token(document: dict[str, Any]) -> dict[str, Any]:
        if client_token:
            document["clientToken"] = client_token
        return document

    inst.forward_json(f"{prefix}/update/accepted", with_token(new_shadow.to_response_dict()))

    current = new_shadow.to_dict(include_delta=True)
    delta = current["state"].get("delta")
    if delta:
        inst.forward_json(
            f"{prefix}/update/delta",
            with_token(
                {
                    "state": delta,
                    "metadata": _delta_metadata(
                        delta, new_shadow.desired, new_shadow.metadata_desired
                    ),
                    "version": new_shadow.version,
                    "timestamp": new_shadow.timestamp,
                }
            ),
        )

    inst.forward_json(
        f"{prefix}/update/documents",
        with_token(
            {
                "previous": _documents_entry(previous),
                "current": _documents_entry(new_shadow),
                "timestamp": new_shadow.timestamp,
            }
        ),
    )


def _documents_entry(shadow: FakeShadow | None) -> dict[str, Any] | None:
    if shadow is None or shadow.deleted:
        return None
    document = shadow.to_dict(include_delta=False)
    return {
        "state": document["state"],
        "metadata": document["metadata"],
        "version": document["version"],
    }


def _delta_metadata(delta: Any, desired: Any, metadata: Any) -> Any:
    """The desired metadata restricted to the delta's fields (AWS: equal to desired's)."""
    if not isinstance(delta, dict) or not isinstance(metadata, dict):
        return metadata
    result: dict[str, Any] = {}
    for key, value in delta.items():
        if key not in metadata:
            continue
        desired_value = desired.get(key) if isinstance(desired, dict) else None
        if isinstance(value, dict) and isinstance(desired_value, dict):
            result[key] = _delta_metadata(value, desired_value, metadata[key])
        else:
            result[key] = metadata[key]
    return result


# --------------------------------------------------------------------------------------
# (2) Device-side shadow topics -> iot-data calls
# --------------------------------------------------------------------------------------

_STOP = object()


class ShadowTopicBridge:
    """Serves the reserved shadow request topics from moto's shadow store.

    MQTT callbacks only enqueue; one worker thread makes the iot-data calls in arrival
    order (a callback runs on the MQTT client's thread, and a boto3 call there would wait
    on the patch's publish, which needs that same thread: a deadlock).
    """

    def __init__(
        self,
        mqtt: MqttPort,
        iot_data_client: Any,
        *,
        publish_timeout: float = 5.0,
    ) -> None:
        self._mqtt = mqtt
        self._client = iot_data_client
        self._publish_timeout = publish_timeout
        self._queue: queue.Queue[Any] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._local = threading.local()
        service = iot_data_client.meta.service_model.service_id.hyphenize()
        iot_data_client.meta.events.register(
            f"before-sign.{service}.DeleteThingShadow", self._add_client_token_header
        )

    def start(self) -> None:
        if self._worker is not None:
            return
        if not is_installed():
            log.warning(
                "ShadowTopicBridge started without install_iot_data_bridge: accepted "
                "update/delete responses will not be published"
            )
        self._worker = threading.Thread(target=self._run, name="shadow-topic-bridge", daemon=True)
        self._worker.start()
        for topic_filter in SHADOW_REQUEST_FILTERS:
            self._mqtt.subscribe(topic_filter, self._on_message, qos=_SHADOW_QOS)

    def stop(self, timeout: float = 5.0) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        self._queue.put(_STOP)
        worker.join(timeout)

    def join(self, timeout: float = 5.0) -> bool:
        """Wait until every request received so far has been handled (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    # -- MQTT side -------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._queue.put((topic, payload))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                topic, payload = item
                self.handle(topic, payload)
            except Exception:
                log.exception("shadow bridge: unhandled error")
            finally:
                self._queue.task_done()

    def _publish(self, topic: str, document: dict[str, Any]) -> None:
        try:
            self._mqtt.publish(
                topic,
                json.dumps(document, separators=(",", ":")).encode(),
                qos=_SHADOW_QOS,
                timeout=self._publish_timeout,
            )
        except Exception:
            log.exception("shadow bridge: publish to %s failed", topic)

    def _reject(
        self, request: ShadowRequest, code: int, message: str, client_token: str | None
    ) -> None:
        document: dict[str, Any] = {"code": code, "message": message, "timestamp": int(time.time())}
        if client_token:
            document["clientToken"] = client_token
        self._publish(f"{request.prefix}/{request.operation}/rejected", document)

    # -- requests ----------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        """Serve one request synchronously (the worker calls this; so may tests)."""
        request = parse_shadow_request_topic(topic)
        if request is None:
            return
        body: Any = None
        invalid_json = False
        if payload.strip():
            try:
                body = json.loads(payload)
            except (ValueError, UnicodeDecodeError):
                invalid_json = True
        token = body.get("clientToken") if isinstance(body, dict) else None
        client_token = token if isinstance(token, str) else None

        if request.operation == "update":
            if invalid_json or not payload.strip():
                self._reject(request, 400, "Invalid JSON", None)
                return
            self._call(request, client_token, self._update, payload)
        elif request.operation == "get":
            if invalid_json:
                self._reject(request, 400, "Invalid JSON", None)
                return
            self._call(request, client_token, self._get, client_token)
        else:  # delete: AWS ignores the body but for the clientToken
            self._call(request, client_token, self._delete, client_token)

    def _named(self, request: ShadowRequest) -> dict[str, str]:
        return {"shadowName": request.shadow_name} if request.shadow_name else {}

    def _update(self, request: ShadowRequest, payload: bytes) -> None:
        # update/accepted, /delta and /documents are published by the moto patch.
        self._client.update_thing_shadow(
            thingName=request.thing_name, payload=payload, **self._named(request)
        )

    def _get(self, request: ShadowRequest, client_token: str | None) -> None:
        response = self._client.get_thing_shadow(
            thingName=request.thing_name, **self._named(request)
        )
        document = json.loads(response["payload"].read())
        document["timestamp"] = int(time.time())  # AWS: when the response was generated
        if client_token:
            document["clientToken"] = client_token
        self._publish(f"{request.prefix}/get/accepted", document)

    def _delete(self, request: ShadowRequest, client_token: str | None) -> None:
        # delete/accepted is published by the moto patch, with the token from the header.
        self._local.client_token = client_token
        try:
            self._client.delete_thing_shadow(thingName=request.thing_name, **self._named(request))
        finally:
            self._local.client_token = None

    def _add_client_token_header(self, request: Any, **_: Any) -> None:
        token = getattr(self._local, "client_token", None)
        if token:
            request.headers[CLIENT_TOKEN_HEADER] = token

    def _call(
        self,
        request: ShadowRequest,
        client_token: str | None,
        operation: Callable[..., None],
        argument: Any,
    ) -> None:
        try:
            operation(request, argument)
        except Exception as exc:
            code, message = _error_of(exc, request)
            if code >= 500:
                log.exception("shadow bridge: %s %s failed", request.operation, request.prefix)
            self._reject(request, code, message, client_token)


_PASSED_THROUGH_CODES = {400, 401, 403, 404, 409, 413, 415, 429}


def _error_of(exc: Exception, request: ShadowRequest) -> tuple[int, str]:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 500, "Internal service failure"
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    error = response.get("Error", {})
    if status not in _PASSED_THROUGH_CODES:
        return 500, "Internal service failure"
    if status == 404:
        name = request.thing_name
        if request.shadow_name:
            name = f"{name}~{request.shadow_name}"
        if request.operation == "update":
            return 404, f"Thing not found: '{request.thing_name}'"
        return 404, f"No shadow exists with name: '{name}'"
    if status == 409:
        return 409, "Version conflict"
    return int(status), str(error.get("Message") or "Bad Request")
