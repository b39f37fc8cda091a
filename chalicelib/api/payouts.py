"""Payout routes (DESIGN §4): a citizen's payout account; admins' payout runs, their
transfer file and settlement; the ledger audit. And the queue and schedule handlers of runs
and audits, which app.py subscribes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import (
    BINARY_TYPES,
    api_view,
    first_accepted,
    parse_body,
    principal,
    produces,
    query_enum,
    require_admin,
)
from chalicelib.domain.clock import iso
from chalicelib.errors import NotAcceptable
from chalicelib.events.batches import process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.domain.payouts import RunSummary
    from chalicelib.services.payouts import AuditSummary

bp = Blueprint(__name__)

XLSX = BINARY_TYPES[0]
SCHEDULE = "schedule"
"""Who started a scheduled run or audit, where an admin's id would be."""


@bp.route("/v1/me/payout-account", methods=["PUT"], authorizer=jwt_auth)
@api_view
def put_payout_account() -> dict[str, Any]:
    from chalicelib.api.payout_schemas import PayoutAccountRequest
    from chalicelib.domain.payouts import masked_view

    request = bp.current_request
    citizen_id = principal(request).citizen_id
    body = parse_body(request, PayoutAccountRequest)
    wiring.citizens().profile(citizen_id)  # registered first (404 otherwise)
    stored = wiring.payouts().set_account(citizen_id, body.bank, body.account_number, body.holder)
    return {"payout_account": masked_view(stored)}


def payout_account_view(citizen_id: str) -> dict[str, str] | None:
    """`GET /v1/me`'s `payout_account`: masked, or None."""
    from chalicelib.domain.payouts import masked_view

    stored = wiring.payouts().account(citizen_id)
    return masked_view(stored) if stored else None


@bp.route("/v1/admin/payout-runs", methods=["POST"], authorizer=jwt_auth)
@api_view
def post_payout_run() -> Response:
    from chalicelib.api.payout_schemas import PayoutRunRequest
    from chalicelib.domain.payouts import parse_period
    from chalicelib.errors import Conflict
    from chalicelib.services.payouts import RunExists

    request = bp.current_request
    admin = require_admin(request)
    body = parse_body(request, PayoutRunRequest)
    try:
        run = wiring.payouts().start_run(parse_period(body.period), admin.citizen_id)
    except RunExists as e:
        raise Conflict(
            f"the period {e.run.period} has a run already",
            code="run_exists",
            details=[{"run_id": e.run.run_id, "status": e.run.status}],
        ) from e
    return Response(
        body={"run_id": run.run_id, "period": run.period, "status": run.status},
        status_code=201,
    )


@bp.route("/v1/admin/payout-runs/{run_id}", methods=["GET"], authorizer=jwt_auth)
@api_view
def get_payout_run(run_id: str) -> dict[str, Any]:
    require_admin(bp.current_request)
    return run_view(wiring.payouts().run(run_id))


@bp.route("/v1/admin/payout-runs/{run_id}/export", methods=["GET"], authorizer=jwt_auth)
@api_view
@produces("text/csv; charset=utf-8", XLSX)
def get_payout_export(run_id: str) -> Response:
    """The transfer file: `format=csv` (default, for systems) or `format=xlsx` (for people:
    codes and account numbers are text cells). The xlsx is bytes: ask with
    `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` first, as API
    Gateway sends binary only to a client whose first Accept type is binary."""
    from chalicelib.domain.payouts import TRANSFER_FORMAT_NAMES, TRANSFER_FORMATS

    request = bp.current_request
    admin = require_admin(request)
    fmt = query_enum(request, "format", TRANSFER_FORMAT_NAMES, default="csv")
    content_type, extension = TRANSFER_FORMATS[fmt]
    if fmt == "xlsx" and first_accepted(request) != XLSX:
        raise NotAcceptable(
            "the spreadsheet is binary: send it as the first type of the Accept header",
            code="not_acceptable",
            details=[{"header": "Accept", "expected": XLSX}],
        )
    body = wiring.payouts().export(run_id, admin.citizen_id, fmt)
    return Response(
        body=body if fmt == "xlsx" else body.decode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{run_id}.{extension}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/v1/admin/payout-runs/{run_id}/settle", methods=["POST"], authorizer=jwt_auth)
@api_view
def post_settle(run_id: str) -> dict[str, Any]:
    from chalicelib.api.payout_schemas import SettleRequest

    request = bp.current_request
    admin = require_admin(request)
    body = parse_body(request, SettleRequest)
    outcome = wiring.payouts().settle(run_id, admin.citizen_id, body.paid, body.failed)
    return {
        **run_view(outcome.run),
        "applied": {"paid": outcome.applied_paid, "failed": outcome.applied_failed},
        "unchanged": outcome.unchanged,
    }


@bp.route("/v1/admin/audit", methods=["POST"], authorizer=jwt_auth)
@api_view
def post_audit() -> Response:
    admin = require_admin(bp.current_request)
    return Response(
        body=audit_view(wiring.payouts().start_audit(admin.citizen_id)), status_code=201
    )


@bp.route("/v1/admin/audit", methods=["GET"], authorizer=jwt_auth)
@api_view
def get_audit() -> dict[str, Any]:
    require_admin(bp.current_request)
    return audit_view(wiring.payouts().latest_audit())


def run_view(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "period": run.period,
        "status": run.status,
        "citizens": run.citizens,
        "total_points": run.total_points,
        "skipped": {
            "no_account": run.skipped_no_account,
            "below_threshold": run.skipped_below_threshold,
        },
        "chunks": {"done": run.chunks_done, "expected": run.chunks_expected},
        "settlement": {
            "paid": run.paid_items,
            "failed": run.failed_items,
            "pending": run.pending_items,
            "paid_points": run.paid_points,
            "failed_points": run.failed_points,
        },
        "started_at": iso(run.started_at),
        "started_by": run.started_by,
        "ready_at": _iso(run.ready_at),
        "settled_at": _iso(run.settled_at),
    }


def audit_view(audit: AuditSummary) -> dict[str, Any]:
    return {
        "audit_id": audit.audit_id,
        "status": audit.status,
        "started_at": iso(audit.started_at),
        "started_by": audit.started_by,
        "finished_at": _iso(audit.finished_at),
        "chunks": {"done": audit.chunks_done, "expected": audit.chunks_expected},
        "citizens_checked": audit.citizens_checked,
        "discrepancy_count": audit.discrepancy_count,
        "discrepancies": [
            {
                "citizen_id": d.citizen_id,
                "problem": d.problem,
                "balance": d.balance,
                "ledger_sum": d.ledger_sum,
                "detail": d.detail,
            }
            for d in audit.discrepancies
        ],
        "totals": audit.totals,
    }


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


# Queue and schedule handlers ------------------------------------------------------------------


def payout_chunk_record_handler(record: SQSRecord) -> None:
    from chalicelib.adapters.sqs_chunks import chunk_from_message

    ref = chunk_from_message("payout", record.body)
    wiring.payouts().pay_chunk(ref)
    wiring.count("PayoutChunks")


def audit_chunk_record_handler(record: SQSRecord) -> None:
    from chalicelib.adapters.sqs_chunks import chunk_from_message

    ref = chunk_from_message("audit", record.body)
    wiring.payouts().audit_chunk(ref)
    wiring.count("AuditChunks")


def process_payout_chunks(event: Any) -> dict[str, Any]:
    return process_batch(event, payout_chunk_record_handler, "sqs")


def process_audit_chunks(event: Any) -> dict[str, Any]:
    return process_batch(event, audit_chunk_record_handler, "sqs")


def scheduled_payout_run(event: Any) -> dict[str, Any]:
    """The monthly run: pays the Seoul month that just ended. A second fire for the period
    (a retried schedule) resumes the run if it is still paying, else does nothing."""
    from chalicelib.domain.payouts import scheduled_period
    from chalicelib.services.payouts import RunExists

    period = scheduled_period(event_time(event))
    try:
        run = wiring.payouts().start_run(period, SCHEDULE)
    except RunExists as e:
        return {"run_id": e.run.run_id, "status": e.run.status, "started": False}
    return {"run_id": run.run_id, "status": run.status, "started": True}


def scheduled_audit(event: Any) -> dict[str, Any]:
    audit = wiring.payouts().start_audit(SCHEDULE)
    return {"audit_id": audit.audit_id, "status": audit.status}


def event_time(event: Any) -> datetime:
    from datetime import UTC

    raw = getattr(event, "time", None) or (event.to_dict() or {}).get("time")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(UTC)
