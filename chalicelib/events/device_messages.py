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
    if ack and ack.status == "rejected" and ack.reason:
        wiring.count(wiring.rejected_metric(ack.reason))
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
    for notice in outcome.notices:
        if notice.event == "opened":
            wiring.count(wiring.alert_metric(notice.kind))
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
    """Presence and the outbox; and purifier overrides whose time is up are ended (the
    automatic mode back), at most a minute late."""
    overrides = wiring.purifier().end_expired()  # one shelter's failure is raised below
    report = wiring.fleet().check_health()
    figures = {
        "checked": report.checked,
        "offline": report.offline,
        "marked_offline": report.marked_offline,
        "redelivered": report.redelivered,
        "overrides_ended": overrides.ended,
    }
    wiring.logger.info("device health", extra=figures)
    if overrides.failures:
        raise overrides.failures[0]
    return figures
