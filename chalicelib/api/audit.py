"""Ledger audit routes (DESIGN §4, §6): admins start an audit and read the latest one. Its
chunks and its schedule are served by chalicelib.events.ledger_audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import actor, answers, api_view, require_role
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power

if TYPE_CHECKING:
    from chalicelib.domain.ledger_audit import AuditSummary

bp = Blueprint(__name__)


@bp.route("/v1/admin/audit", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:Audit")
def post_audit() -> Response:
    """Start a ledger audit (invariants 2 and 3).

    201 with the audit, running; its chunks run in the background.
    """
    who = require_role(bp.current_request, Power.AUDIT)
    started = wiring.ledger_audit().start_audit(who.citizen_id, actor(who))
    return Response(body=audit_view(started), status_code=201)


@bp.route("/v1/admin/audit", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:Audit")
def get_audit() -> dict[str, Any]:
    """Read the latest ledger audit, running or done, with its discrepancies.

    404 `no_audit` before the first one.
    """
    require_role(bp.current_request, Power.AUDIT)
    return audit_view(wiring.ledger_audit().latest_audit())


def audit_view(audit: AuditSummary) -> dict[str, Any]:
    return {
        "audit_id": audit.audit_id,
        "status": audit.status,
        "started_at": iso(audit.started_at),
        "started_by": audit.started_by,
        "finished_at": iso(audit.finished_at) if audit.finished_at else None,
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
