"""A patch on moto's iot-data backend so that the data plane reaches the MQTT broker.

AWS IoT Core delivers what the data plane does to MQTT subscribers; moto's ``iot-data``
backend does not: ``publish`` only records the message and shadow updates never leave moto.
:func:`install_iot_data_bridge` patches moto's ``IoTDataPlaneBackend`` (class-level: the
backend objects are created lazily per account and region) so that an iot-data ``Publish``
reaches the broker at the requested QoS, and an accepted shadow update or delete publishes
AWS's response documents (``update/accepted``, ``update/delta``, ``update/documents``,
``delete/accepted``). Broker failures are logged; the moto call never fails because of them.

The patch works in the process of the moto server (infra/local/emulator.py, on an MQTT
connection of the emulator's own); :class:`infra.local.shadow_bridge.ShadowTopicBridge`,
in the stack's process, is its device-side companion.
"""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.iotdata.exceptions import InvalidRequestException, ResourceNotFoundException
from moto.iotdata.models import FakeShadow, IoTDataPlaneBackend
from moto.iotdata.responses import IoTDataPlaneResponse

from infra.local.mqtt_port import MqttPort
from infra.local.shadow_documents import (
    MAX_STATE_BYTES,
    SHADOW_QOS,
    TOO_LARGE,
    ShadowRejected,
    apply_null_sections,
    as_moto_error,
    delta_metadata,
    documents_entry,
    shadow_topic_prefix,
    state_bytes,
    validate_update,
)

log = logging.getLogger(__name__)

# Header by which the bridge hands a device's clientToken to the delete handler in moto
# (a DeleteThingShadow call has no body, but AWS echoes the token on delete/accepted).
CLIENT_TOKEN_HEADER = "x-local-iot-client-token"


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
        self.forward(topic, json.dumps(document, separators=(",", ":")).encode(), SHADOW_QOS)


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
            request = validate_update(payload, previous)
            kept = copy.deepcopy(previous)  # moto merges into the previous version's dicts
            new_shadow: FakeShadow = original(self, thing_name, payload, shadow_name)
            if request is None:  # moto raised for anything we did not pre-validate
                return new_shadow
            apply_null_sections(new_shadow, request)
            if state_bytes(new_shadow) > MAX_STATE_BYTES:
                # AWS refuses an update whose merged state would pass 8 KB: undo it.
                if kept is None:
                    thing.thing_shadows.pop(shadow_name, None)
                else:
                    thing.thing_shadows[shadow_name] = kept
                raise as_moto_error(ShadowRejected(413, TOO_LARGE))
            _publish_update_messages(inst, thing_name, shadow_name, request, kept, new_shadow)
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
                    "metadata": delta_metadata(
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
                "previous": documents_entry(previous),
                "current": documents_entry(new_shadow),
                "timestamp": new_shadow.timestamp,
            }
        ),
    )
