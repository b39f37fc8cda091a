"""Payout run routes (DESIGN §4): admins start a month's run, follow it, download its
transfer file and settle it. Its chunks and its schedule are served by
chalicelib.events.payout_runs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import (
    BINARY_TYPES,
    actor,
    answers,
    api_view,
    first_accepted,
    parse_body,
    produces,
    query_enum,
    query_int,
    query_str,
    require_role,
)
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power
from chalicelib.errors import BadRequest, NotAcceptable

if TYPE_CHECKING:
    from chalicelib.domain.payout_runs import RunSummary

bp = Blueprint(__name__)

XLSX = BINARY_TYPES[0]


@bp.route("/v1/admin/payout-runs", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("payout_schemas:PayoutRunStarted")
def post_payout_run() -> Response:
    """Start the payout run of a month that has ended.

    `{period}`: 201 `{run_id, period, status}`; a second run for the period is a 409
    `run_exists`, the current or a future month a 422 `period_open`.
    """
    from chalicelib.api.payout_schemas import PayoutRunRequest
    from chalicelib.domain.payout_runs import parse_period
    from chalicelib.errors import Conflict
    from chalicelib.services.payout_runs import RunExists

    request = bp.current_request
    admin = require_role(request, Power.PAYOUTS)
    body = parse_body(request, PayoutRunRequest)
    try:
        run = wiring.payout_runs().start_run(parse_period(body.period), actor(admin))
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


@bp.route("/v1/admin/payout-runs", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("payout_schemas:PayoutRunPage")
def get_payout_runs() -> dict[str, Any]:
    """List payout runs, newest period first."""
    request = bp.current_request
    require_role(request, Power.PAYOUTS)
    limit = query_int(request, "limit", default=20, low=1, high=100)
    after = _read_cursor(request, _PERIOD_CURSOR)
    page = wiring.payout_runs().runs(limit, after)
    return {"runs": [run_view(r) for r in page.runs], "next_cursor": _cursor(page.next_cursor)}


@bp.route("/v1/admin/payout-runs/{run_id}/skipped", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("payout_schemas:SkippedPage")
def get_payout_skipped(run_id: str) -> dict[str, Any]:
    """List the citizens a run did not pay, and why.

    So support can reach them: `reason` (`no_account`, `below_threshold`, or `all`).
    """
    from chalicelib.domain.payout_runs import SKIP_FILTERS

    request = bp.current_request
    require_role(request, Power.PAYOUTS)
    picked = query_enum(request, "reason", SKIP_FILTERS, default="all")
    reason = None if picked == "all" else picked
    limit = query_int(request, "limit", default=100, low=1, high=500)
    after = _read_cursor(request, _SKIP_CURSOR)
    if after is not None and reason is not None and not after.startswith(f"{reason}#"):
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    page = wiring.payout_runs().skipped(run_id, reason, limit, after)  # type: ignore[arg-type]
    return {
        "run_id": run_id,
        "skipped": [{"citizen_id": s.citizen_id, "reason": s.reason} for s in page.skipped],
        "next_cursor": _cursor(page.next_cursor),
    }


@bp.route("/v1/admin/payout-runs/{run_id}/approve", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("payout_schemas:PayoutRun")
def post_approve(run_id: str) -> dict[str, Any]:
    """Approve a `ready` payout run (a second person).

    A repeat answers the approved run; the person who started the run is a 403
    `same_person`.
    """
    who = require_role(bp.current_request, Power.PAYOUTS)
    run, _applied = wiring.payout_runs().approve(run_id, actor(who))
    return run_view(run)


@bp.route("/v1/admin/payout-runs/{run_id}", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("payout_schemas:PayoutRun")
def get_payout_run(run_id: str) -> dict[str, Any]:
    """Read one payout run: status, totals, skipped, settlement, exports."""
    require_role(bp.current_request, Power.PAYOUTS)
    return run_view(wiring.payout_runs().run(run_id))


@bp.route("/v1/admin/payout-runs/{run_id}/export", methods=["GET"], authorizer=jwt_auth)
@api_view
@produces("text/csv; charset=utf-8", XLSX)
def get_payout_export(run_id: str) -> Response:
    """Download an approved run's bank-transfer file, as CSV or xlsx.

    `format=csv` (default, for systems) or `format=xlsx` (for people: codes and account
    numbers are text cells). The xlsx is bytes: ask with `Accept:
    application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` first, as API
    Gateway sends binary only to a client whose first Accept type is binary.
    """
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
    body = wiring.payout_runs().export(run_id, actor(admin), fmt)
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
@answers("payout_schemas:SettledRun")
def post_settle(run_id: str) -> dict[str, Any]:
    """Mark a run's items paid or failed (failed ones are credited back).

    `{paid, failed}`: naming an item already so changes nothing (`unchanged` counts
    them).
    """
    from chalicelib.api.payout_schemas import SettleRequest

    request = bp.current_request
    admin = require_role(request, Power.PAYOUTS)
    body = parse_body(request, SettleRequest)
    outcome = wiring.payout_runs().settle(run_id, actor(admin), body.paid, body.failed)
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
        "approved_at": _iso(run.approved_at),
        "approved_by": run.approved_by,
        "exports": {fmt: {"sha256": digest} for fmt, digest in sorted(run.exports.items())},
        "settled_at": _iso(run.settled_at),
    }


_PERIOD_CURSOR = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_SKIP_CURSOR = re.compile(r"(no_account|below_threshold)#[A-Za-z0-9._:@-]{1,128}")


def _cursor(key: str | None) -> str | None:
    from chalicelib.adapters.dynamodb_cursors import encode_key  # not at cold start

    return encode_key(key) if key else None


def _read_cursor(request: Any, shape: re.Pattern[str]) -> str | None:
    """The key a cursor stands for; anything that is not a key of this list is a 400. A
    cursor only continues the list it came from: the Query's partition is the route's."""
    from chalicelib.adapters.dynamodb_cursors import decode_key

    raw = query_str(request, "cursor", max_length=400, code="invalid_cursor")
    return None if raw is None else decode_key(raw, shape)


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None
