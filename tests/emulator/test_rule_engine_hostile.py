"""The local rules engine never drops a message silently (invariant 5): a payload nested past
any parser reaches the rule's action when the rule does not read its fields, the error
action when it does, and the error action too when evaluation fails in a way nobody
foresaw."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.local import rule_engine
from infra.local.rule_engine import RuleEngine

TOPIC = "gimhae/robots/robot-001/deposits"
DEEP = b"[" * 100_000 + b"]" * 100_000
RULES = {
    "robot_deposits": "SELECT encode(*, 'base64') AS payload, topic(3) AS device_id "
    "FROM 'gimhae/robots/+/deposits'",
    "reads_fields": "SELECT items, topic(3) AS device_id FROM 'gimhae/robots/+/deposits'",
}


class FakeMqtt:
    def __init__(self) -> None:
        self.callbacks: list[Callable[[str, bytes], None]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10) -> None:
        raise AssertionError("the engine does not publish")

    def subscribe(self, topic_filter: str, callback: Any, qos: int = 1) -> None:
        self.callbacks.append(callback)


class FakeIot:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def list_topic_rules(self) -> dict[str, Any]:
        return {"rules": [{"ruleName": name} for name in self.names]}

    def get_topic_rule(self, ruleName: str) -> dict[str, Any]:
        return {
            "rule": {
                "ruleName": ruleName,
                "sql": RULES[ruleName],
                "actions": [{"sqs": {"queueUrl": f"q/{ruleName}"}}],
                "errorAction": {"sqs": {"queueUrl": "q/errors"}},
            }
        }


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.sent += [(QueueUrl, e["MessageBody"]) for e in Entries]
        return {"Failed": []}


def _run(names: list[str], *payloads: bytes) -> list[tuple[str, Any]]:
    mqtt, sqs = FakeMqtt(), FakeSqs()
    engine = RuleEngine(mqtt, FakeIot(names), sqs)
    engine.start()
    for payload in payloads:
        for callback in mqtt.callbacks:
            callback(TOPIC, payload)
    engine.stop(timeout=30)
    return [(queue, json.loads(body)) for queue, body in sqs.sent]


@pytest.mark.parametrize("payload", [DEEP, b'{"a": ' * 5000 + b"1" + b"}" * 5000])
def test_a_payload_nested_too_deeply_reaches_the_deposit_action(payload: bytes) -> None:
    (sent,) = _run(["robot_deposits"], payload)
    queue, body = sent
    assert queue == "q/robot_deposits"
    assert base64.b64decode(body["payload"]) == payload


def test_a_rule_that_reads_fields_sends_it_to_the_error_action() -> None:
    (sent,) = _run(["reads_fields"], DEEP)
    queue, body = sent
    assert queue == "q/errors"
    assert base64.b64decode(body["base64OriginalPayload"]) == DEEP
    assert body["failures"][0]["failedAction"] == "SqlEvaluation"


def test_an_unforeseen_evaluation_failure_goes_to_the_error_action(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("something nobody foresaw")

    monkeypatch.setattr(rule_engine, "evaluate", broken)
    (sent,) = _run(["robot_deposits"], b'{"event_id": "evt-1"}')
    queue, body = sent
    assert queue == "q/errors"
    assert "RecursionError" in body["failures"][0]["errorMessage"]


@pytest.mark.parametrize(
    "literal", ["9" * 400, "-" + "9" * 400, "1e400", "-1e400", "1e-320", "9" * 5000, "NaN"]
)
def test_a_hostile_number_reaches_the_action_unchanged_for_the_handler_to_judge(
    literal: str,
) -> None:
    # GIVEN a deposit whose count is a number no field can hold
    payload = ('{"event_id": "evt-00000001", "items": [{"accepted": ' + literal + "}]}").encode()
    # WHEN the rules engine runs it through the deposits rule
    (sent,) = _run(["robot_deposits"], payload)
    # THEN it reaches the deposits queue byte for byte (the handler quarantines it), stamped
    queue, body = sent
    assert queue == "q/robot_deposits"
    assert base64.b64decode(body["payload"]) == payload


def test_the_rules_stamp_every_message_with_its_receipt_time() -> None:
    from pathlib import Path

    rules = Path(__file__).resolve().parents[2] / "iot" / "rules"
    for path in sorted(rules.glob("*.json")):
        sql = json.loads(path.read_text())["sql"]
        assert "timestamp() AS received_at" in sql, path.name
