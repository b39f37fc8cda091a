"""The local IoT Core rules engine: runs the topic rules provisioned in the emulator.

It reads the rules back from the IoT registry (what was provisioned is what runs), subscribes
to each rule's topic filter with the backend's broker identity, evaluates the SQL and performs
the SQS action; when evaluation or an action fails it performs the rule's error action with
the message AWS sends (ruleName, topic, clientId, base64OriginalPayload, failures).

Messages waiting in the engine's inbox are handled together: their SQS actions go out as
`SendMessageBatch` requests of up to 10 (per queue, in arrival order); each entry that fails
gets the rule's error action, as a failed `SendMessage` would. In AWS each action is its own
request; locally one HTTP round trip per message was the rules engine's main cost.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local.iot_sql import CompiledRule, RuleEvaluationError, compile_sql, evaluate
from infra.local.mqtt_port import MqttPort

log = logging.getLogger(__name__)


MAX_DRAIN = 100  # inbox messages handled (and their SQS sends batched) together


@dataclass(frozen=True)
class _Send:
    queue_url: str
    body: str
    on_error: Callable[[str], None] | None


@dataclass(frozen=True)
class _Rule:
    name: str
    compiled: CompiledRule
    actions: list[dict[str, Any]]
    error_action: dict[str, Any] | None


class RuleEngine:
    def __init__(
        self,
        mqtt: MqttPort,
        iot_client: Any,
        sqs_client: Any,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        """`clock_ms`: `timestamp()`'s receipt time in ms (default: real time; the stack
        gives its test clock's)."""
        self._mqtt = mqtt
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._iot = iot_client
        self._sqs = sqs_client
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="iot-rules", daemon=True)
        self.rules: list[_Rule] = []
        self._pending: list[_Send] = []
        self.fired = 0
        self.errors = 0

    def start(self) -> None:
        for summary in self._iot.list_topic_rules()["rules"]:
            if summary.get("ruleDisabled"):
                continue
            payload = self._iot.get_topic_rule(ruleName=summary["ruleName"])["rule"]
            self.rules.append(
                _Rule(
                    name=payload["ruleName"],
                    compiled=compile_sql(payload["sql"]),
                    actions=list(payload.get("actions", [])),
                    error_action=payload.get("errorAction"),
                )
            )
        self._worker.start()
        for topic_filter in sorted({r.compiled.topic_filter for r in self.rules}):
            self._mqtt.subscribe(topic_filter, self._on_message, qos=1)

    def stop(self, timeout: float = 5.0) -> None:
        self._inbox.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout)

    def _on_message(self, topic: str, payload: bytes) -> None:
        # The broker's thread must stay free: the work happens on our worker, in order.
        self._inbox.put((topic, payload))

    def _run(self) -> None:
        while (item := self._inbox.get()) is not None:
            items = [item]
            stopping = False
            while len(items) < MAX_DRAIN:
                try:
                    more = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                items.append(more)
            self._pending = []
            for topic, payload in items:
                for rule in self.rules:
                    try:
                        self._apply(rule, topic, payload)
                    except Exception:
                        log.exception("rule %s failed on %s", rule.name, topic)
            self._flush()
            if stopping:
                return

    def _flush(self) -> None:
        while self._pending:  # a failed send queues its error action: sent in the next round
            self._send(self._pending)

    def _send(self, pending: list[_Send]) -> None:
        by_queue: dict[str, list[_Send]] = {}
        for send in pending:
            by_queue.setdefault(send.queue_url, []).append(send)
        self._pending = []
        for queue_url, sends in by_queue.items():
            for chunk in _batches(sends):
                try:
                    resp = self._sqs.send_message_batch(
                        QueueUrl=queue_url,
                        Entries=[
                            {"Id": str(i), "MessageBody": s.body} for i, s in enumerate(chunk)
                        ],
                    )
                    failed = {
                        f["Id"]: f.get("Message", f.get("Code", "")) for f in resp.get("Failed", [])
                    }
                except Exception as e:
                    failed = {str(i): str(e) for i in range(len(chunk))}
                for i, send in enumerate(chunk):
                    if str(i) in failed and send.on_error is not None:
                        send.on_error(failed[str(i)])

    def _apply(self, rule: _Rule, topic: str, payload: bytes) -> None:
        # The broker does not tell subscribers who published; its ACL lets only the device
        # named in the topic publish there, so that name is the publisher's client id.
        parts = topic.split("/")
        client_id = parts[2] if len(parts) > 2 else ""
        try:
            output = evaluate(
                rule.compiled, topic, payload, client_id=client_id, now_ms=self._clock_ms()
            )
        except RuleEvaluationError as e:
            self._error(rule, topic, client_id, payload, "SqlEvaluation", rule.name, str(e))
            return
        except Exception as e:
            # A bug of the emulator, or an input it did not foresee: the message still goes
            # to the error action (invariant 5), never only to a log line.
            log.exception("rule %s could not evaluate a message on %s", rule.name, topic)
            self._error(rule, topic, client_id, payload, "SqlEvaluation", rule.name, repr(e))
            return
        if output is None:
            return
        self.fired += 1
        body = (
            output.decode("utf-8", "replace") if isinstance(output, bytes) else json.dumps(output)
        )
        for action in rule.actions:
            kind, resource = _describe(action)

            def on_error(message: str, kind: str = kind, resource: str = resource) -> None:
                self._error(rule, topic, client_id, payload, kind, resource, message)

            try:
                self._perform(action, body, on_error)
            except Exception as e:
                on_error(str(e))

    def _perform(
        self, action: dict[str, Any], body: str, on_error: Callable[[str], None] | None
    ) -> None:
        """Queue the action's message for the next batch (sent by `_flush`)."""
        if "sqs" not in action:
            raise NotImplementedError(f"the local rules engine runs SQS actions only: {action}")
        sqs = action["sqs"]
        if sqs.get("useBase64"):
            body = base64.b64encode(body.encode()).decode()
        self._pending.append(_Send(sqs["queueUrl"], body, on_error))

    def _error(
        self,
        rule: _Rule,
        topic: str,
        client_id: str,
        payload: bytes,
        kind: str,
        resource: str,
        message: str,
    ) -> None:
        self.errors += 1
        log.warning("rule %s: %s on %s: %s", rule.name, kind, topic, message)
        if rule.error_action is None:
            return
        document = {
            "ruleName": rule.name,
            "topic": topic,
            "cloudwatchTraceId": str(uuid.uuid4()),
            "clientId": client_id,
            "base64OriginalPayload": base64.b64encode(payload).decode(),
            "failures": [
                {"failedAction": kind, "failedResource": resource, "errorMessage": message}
            ],
        }

        def lost(message: str) -> None:
            log.error(
                "rule %s: the error action failed too (%s); the message is lost", rule.name, message
            )

        try:
            self._perform(rule.error_action, json.dumps(document), lost)
        except Exception as e:
            lost(str(e))


BATCH_BYTES = 256 * 1024  # SendMessageBatch: the sum of the bodies (moto enforces it)


def _batches(sends: list[_Send]) -> list[list[_Send]]:
    """Up to 10 sends whose bodies sum to at most BATCH_BYTES (a larger one goes alone)."""
    batches: list[list[_Send]] = []
    size = 0
    for send in sends:
        n = len(send.body.encode())
        if not batches or len(batches[-1]) == 10 or size + n > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(send)
        size += n
    return batches


def _describe(action: dict[str, Any]) -> tuple[str, str]:
    ((kind, body),) = action.items()
    return f"{kind[0].upper()}{kind[1:]}Action", str(body.get("queueUrl", ""))
