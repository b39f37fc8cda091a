"""Payout runs' entry points that are not HTTP: the queue of their chunks (one page of one
bucket per message) and the monthly schedule that starts a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import wiring
from chalicelib.events.batches import process_batch
from chalicelib.events.schedules import event_time

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def payout_chunk_record_handler(record: SQSRecord) -> None:
    from chalicelib.adapters.sqs_chunks import chunk_from_message

    ref = chunk_from_message("payout", record.body)
    wiring.payout_runs().pay_chunk(ref)
    wiring.count("PayoutChunks")


def process_payout_chunks(event: Any) -> dict[str, Any]:
    return process_batch(event, payout_chunk_record_handler, "sqs")


def scheduled_payout_run(event: Any) -> dict[str, Any]:
    """The monthly run: pays the Seoul month that just ended, started by the system (any
    finance person may approve it). A second fire for the period (a retried schedule)
    resumes the run if it is still paying, else does nothing."""
    from chalicelib.domain.payout_runs import scheduled_period
    from chalicelib.domain.staff_actions import SYSTEM
    from chalicelib.services.payout_runs import RunExists

    period = scheduled_period(event_time(event))
    try:
        run = wiring.payout_runs().start_run(period, SYSTEM)
    except RunExists as e:
        return {"run_id": e.run.run_id, "status": e.run.status, "started": False}
    return {"run_id": run.run_id, "status": run.status, "started": True}
