"""Device-side shadow topics served from moto's shadow store, as AWS IoT Core serves them.

:class:`ShadowTopicBridge` subscribes, as the backend identity, to the device-side shadow
request topics (``update``, ``get``, ``delete``, classic and named) and turns each request
into the iot-data call against moto. Accepted updates and deletes are published by the
patch of :mod:`infra.local.iot_data_patch` (once); ``get/accepted`` and every ``*/rejected``
are published by the bridge. Its boto3 calls must reach the moto server in which the patch
is installed.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from infra.local.iot_data_patch import CLIENT_TOKEN_HEADER
from infra.local.mqtt_port import MqttPort
from infra.local.shadow_documents import (
    INVALID_JSON,
    SHADOW_QOS,
    SHADOW_REQUEST_FILTERS,
    ShadowRejected,
    ShadowRequest,
    parse_request,
    parse_shadow_request_topic,
)

log = logging.getLogger(__name__)

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
        self._worker = threading.Thread(target=self._run, name="shadow-topic-bridge", daemon=True)
        self._worker.start()
        for topic_filter in SHADOW_REQUEST_FILTERS:
            self._mqtt.subscribe(topic_filter, self._on_message, qos=SHADOW_QOS)

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
                qos=SHADOW_QOS,
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
        refused: ShadowRejected | None = None
        if payload.strip():
            try:  # size, encoding and depth first: nothing a device sends reaches recursion
                body = parse_request(payload)
            except ShadowRejected as e:
                refused = e
        token = body.get("clientToken") if isinstance(body, dict) else None
        client_token = token if isinstance(token, str) else None

        if request.operation == "update":
            if refused is not None or not payload.strip():
                refused = refused or ShadowRejected(400, INVALID_JSON)
                self._reject(request, refused.code, refused.message, None)
                return
            self._call(request, client_token, self._update, payload)
        elif request.operation == "get":
            if refused is not None:
                self._reject(request, refused.code, refused.message, None)
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
