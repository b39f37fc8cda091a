"""Device messages off the queues, and the fleet's health schedule: each record goes
through the intake (chalicelib.events.intake, imported at first use) into its service, and
a loop over the records reports only those that failed (Powertools batch), so one poison
message never blocks its batch.

Queues: deposits (robots' deposits, DESIGN §3), device-reports (shelters' and robots'
telemetry, status, presence and shadow documents), device-errors (what a topic rule could
not deliver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.events.batches import process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.domain.operations import Replayed


def process_deposits(event: Any) -> dict[str, Any]:
    return process_batch(event, deposit_record_handler, "sqs")


def process_reports(event: Any) -> dict[str, Any]:
    return process_batch(event, report_record_handler, "sqs")


def process_rule_errors(event: Any) -> dict[str, Any]:
    return process_batch(event, rule_error_record_handler, "sqs")


def deposit_record_handler(record: SQSRecord) -> None:
    from chalicelib.events import intake

    service = wiring.recycling()
    message = intake.deposit(record.body, service.now())
    outcome = service.receive(message)
    ack = outcome.ack
    status = ack.status if ack else "unanswered"
    wiring.count(f"Deposits{status.capitalize()}")
    if ack and ack.status == "credited":
        wiring.count("PointsCredited", ack.points or 0)
    if outcome.taken_while_full:
        deposit_taken(message.device_id)
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


class _Refusals:
    """Where a replayed message's refusal goes instead of the quarantine: its entry is
    still open, and one open entry per message is enough."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.details: str | None = None

    def quarantine(
        self,
        *,
        source: str,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
        original: str | None = None,
    ) -> None:
        self.reason, self.details = reason, details


def replay_deposit(body: str) -> Replayed:
    """A quarantined deposits-queue message through the deposit handler again (an
    operator's reprocess): the same intake and service, so the envelope's `received_at`
    (IoT Core's receipt) still judges the deposit's age and its event id's guard still
    credits it once; a refusal comes back instead of being quarantined again."""
    from chalicelib.domain.operations import Replayed
    from chalicelib.events import intake

    refusals = _Refusals()
    service = wiring.recycling_replay(refusals)
    outcome = service.receive(intake.deposit(body, service.now()))
    ack = outcome.ack
    if refusals.reason is not None or ack is None:
        return Replayed("refused", refusals.reason or "unprocessable", details=refusals.details)
    wiring.count(f"DepositsReprocessed{ack.status.capitalize()}")
    if ack.status == "rejected":
        return Replayed("rejected", ack.reason)
    return Replayed("credited" if ack.status == "credited" else "duplicate", ack.reason, ack.points)


def deposit_taken(device_id: str | None) -> None:
    """A credited deposit from a robot that said it was not accepting is counted for
    operators (the robot took the items: the citizen keeps them)."""
    if device_id and wiring.fleet().deposit_taken(device_id):
        wiring.count("DepositsWhileNotAccepting")


def report_record_handler(record: SQSRecord) -> None:
    """One device report from a fleet topic rule."""
    from chalicelib.events import intake

    service = wiring.fleet()
    outcome = service.receive(intake.report(record.body, service.now()))
    wiring.count(f"DeviceReports{outcome.status.capitalize()}")
    if outcome.notices:
        wiring.count("AlertsSent", len(outcome.notices))
    wiring.logger.info(
        "device report handled",
        extra={"status": outcome.status, "reason": outcome.reason, "alerts": len(outcome.notices)},
    )


def rule_error_record_handler(record: SQSRecord) -> None:
    """An IoT rule could not deliver a message: keep it, with the failure, for admins."""
    from chalicelib.events import intake

    failure = intake.rule_failure(record.body)
    wiring.count("RuleActionFailures")
    wiring.operations().keep_rule_failure(
        device_id=failure.device_id, details=failure.details, payload=failure.payload
    )


def check_device_health() -> dict[str, Any]:
    report = wiring.fleet().check_health()
    figures = {
        "checked": report.checked,
        "offline": report.offline,
        "marked_offline": report.marked_offline,
        "redelivered": report.redelivered,
    }
    wiring.logger.info("device health", extra=figures)
    return figures
