"""Payout run routes (DESIGN §4): admins start a month's run, follow it, download its
transfer file and settle it. Its chunks and its schedule are served by
chalicelib.events.payout_runs."""

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
    produces,
    query_enum,
    require_role,
)
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power
from chalicelib.errors import NotAcceptable

if TYPE_CHECKING:
    from chalicelib.domain.payout_runs import RunSummary

bp = Blueprint(__name__)

XLSX = BINARY_TYPES[0]


@bp.route("/v1/admin/payout-runs", methods=["POST"], authorizer=jwt_auth)
@api_view
def post_payout_run() -> Response:
    from chalicelib.api.payout_schemas import PayoutRunRequest
    from chalicelib.domain.payout_runs import parse_period
    from chalicelib.errors import Conflict
    from chalicelib.services.payout_runs import RunExists

    request = bp.current_request
    admin = require_role(request, Power.PAYOUTS)
    body = parse_body(request, PayoutRunRequest)
    try:
        run = wiring.payout_runs().start_run(parse_period(body.period), admin.citizen_id)
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
    require_role(bp.current_request, Power.PAYOUTS)
    return run_view(wiring.payout_runs().run(run_id))


@bp.route("/v1/admin/payout-runs/{run_id}/export", methods=["GET"], authorizer=jwt_auth)
@api_view
@produces("text/csv; charset=utf-8", XLSX)
def get_payout_export(run_id: str) -> Response:
    """The transfer file: `format=csv` (default, for systems) or `format=xlsx` (for people:
    codes and account numbers are text cells). The xlsx is bytes: ask with
    `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` first, as API
    Gateway sends binary only to a client whose first Accept type is binary."""
    from chalicelib.domain.transfer_files import TRANSFER_FORMAT_NAMES, TRANSFER_FORMATS

    request = bp.current_request
    admin = require_role(request, Power.PAYOUTS)
    fmt = query_enum(request, "format", TRANSFER_FORMAT_NAMES, default="csv")
    content_type, extension = TRANSFER_FORMATS[fmt]
    if fmt == "xlsx" and first_accepted(request) != XLSX:
        raise NotAcceptable(
            "the spreadsheet is binary: send it as the first type of the Accept header",
            code="not_acceptable",
            details=[{"header": "Accept", "expected": XLSX}],
        )
    body = wiring.payout_runs().export(run_id, admin.citizen_id, fmt)
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
    admin = require_role(request, Power.PAYOUTS)
    body = parse_body(request, SettleRequest)
    outcome = wiring.payout_runs().settle(run_id, admin.citizen_id, body.paid, body.failed)
    return {
        **run_view(outcome.run),
        "applied": {"paid": outcome.applied_paid, "failed": outcome.applied_failed},
        "unchanged": outcome.unchanged,
    }


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


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None
