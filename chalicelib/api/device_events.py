"""Queue handlers for device messages: a loop over a pure record handler, reporting only the
records that failed (Powertools batch), so one poison message never blocks its batch.

The topic rule's envelope (the device's payload in base64, the device from the topic) is
opened here, at the edge; services receive the device's own bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.domain import json_limits, receipt
from chalicelib.events.batches import process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def deposit_record_handler(record: SQSRecord) -> None:
    from pydantic import ValidationError

    from chalicelib.api.schemas import RuleEnvelope

    service = wiring.recycling()
    try:
        envelope = RuleEnvelope.model_validate(json_limits.loads(record.body))
    except (ValidationError, json_limits.JsonRejected) as e:
        outcome = service.refuse_message(
            "invalid_envelope", None, _first_error(e), _readable(record.body)
        )
    else:
        try:
            raw = base64.b64decode(envelope.payload, validate=True)
        except (binascii.Error, ValueError):
            outcome = service.refuse_message(
                "invalid_envelope", envelope.device_id, "payload is not base64", None
            )
        else:
            try:
                received = receipt.receipt_time(envelope.received_at, service.now())
            except receipt.ReceiptRejected as e:
                outcome = service.refuse_message(
                    "invalid_envelope", envelope.device_id, str(e), _readable(record.body)
                )
            else:
                outcome = service.receive_deposit(envelope.device_id, raw, received)
    ack = outcome.ack
    status = ack.status if ack else "unanswered"
    wiring.count(f"Deposits{status.capitalize()}")
    if ack and ack.status == "credited":
        wiring.count("PointsCredited", ack.points or 0)
    if outcome.taken_while_full:
        from chalicelib.api.fleet import deposit_taken

        deposit_taken(envelope.device_id)
    if outcome.quarantined:
        wiring.count("MessagesQuarantined")
    wiring.logger.info(
        "deposit handled",
        extra={
            "event_id": ack.event_id if ack else None,
            "status": status,
            "reason": (ack.reason if ack else None) or outcome.quarantined,
            "points": ack.points if ack else None,
        },
    )


def rule_error_record_handler(record: SQSRecord) -> None:
    """An IoT rule could not deliver a message: keep it, with the failure, for admins."""
    try:
        error = json_limits.loads(record.body)
    except json_limits.JsonRejected:
        error = None
    if not isinstance(error, dict):
        error = {"failures": [], "raw": record.body[:2000]}
    topic = str(error.get("topic") or "")
    parts = topic.split("/")
    payload = None
    original = error.get("base64OriginalPayload")
    if isinstance(original, str) and original:
        try:
            payload = base64.b64decode(original).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            payload = original[:2000]
    wiring.count("RuleActionFailures")
    wiring.operations().keep_rule_failure(
        device_id=parts[2] if len(parts) > 2 else None,
        details=json.dumps(
            {"rule": error.get("ruleName"), "topic": topic, "failures": error.get("failures")},
            ensure_ascii=False,
            default=str,
        ),
        payload=payload,
    )


def process(event: Any, record_handler: Any) -> dict[str, Any]:
    return process_batch(event, record_handler, "sqs")


def _first_error(error: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()
        )
    return str(error)


def _readable(body: str) -> str:
    """An envelope as admins should see it: its base64 payload decoded, so that the phone
    redaction the quarantine applies can read what the device wrote."""
    try:
        envelope = json_limits.loads(body)
        encoded = envelope["payload"]
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8", errors="replace")
    except (ValueError, KeyError, TypeError):  # JsonRejected and binascii.Error are ValueErrors
        return body
    return json.dumps({**envelope, "payload": decoded}, ensure_ascii=False)
