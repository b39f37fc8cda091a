"""Queue handlers for device messages: a loop over a pure record handler, reporting only the
records that failed (Powertools batch), so one poison message never blocks its batch."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.domain.recycling import redact_phones

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def deposit_record_handler(record: SQSRecord) -> None:
    outcome = wiring.recycling().handle_rule_message(record.body)
    ack = outcome.ack or {}
    status = str(ack.get("status") or "unanswered")
    wiring.count(f"Deposits{status.capitalize()}")
    if status == "credited":
        wiring.count("PointsCredited", int(ack.get("points") or 0))
    if outcome.quarantined:
        wiring.count("MessagesQuarantined")
    wiring.logger.info(
        "deposit handled",
        extra={
            "event_id": ack.get("event_id"),
            "status": ack.get("status"),
            "reason": ack.get("reason") or outcome.quarantined,
            "points": ack.get("points"),
        },
    )


def rule_error_record_handler(record: SQSRecord) -> None:
    """An IoT rule could not deliver a message: keep it, with the failure, for admins."""
    try:
        error = json.loads(record.body)
    except ValueError:
        error = {"failures": [], "raw": record.body}
    topic = str(error.get("topic") or "")
    parts = topic.split("/")
    device_id = parts[2] if len(parts) > 2 else None
    payload = None
    if error.get("base64OriginalPayload"):
        raw = base64.b64decode(error["base64OriginalPayload"])
        payload = redact_phones(raw.decode("utf-8", errors="replace"))
    wiring.count("RuleActionFailures")
    wiring.quarantine().quarantine(
        source="rule-errors",
        reason="rule_action_failed",
        device_id=device_id,
        event_id=None,
        details=json.dumps(
            {"rule": error.get("ruleName"), "topic": topic, "failures": error.get("failures")},
            ensure_ascii=False,
        ),
        payload=payload,
    )


def process(event: Any, record_handler: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    response = process_partial_response(
        event=event.to_dict(),
        record_handler=record_handler,
        processor=BatchProcessor(event_type=EventType.SQS),
        context=event.context,
    )
    wiring.publish_metrics()
    return dict(response)
