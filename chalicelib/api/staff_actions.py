"""The staff action log (DESIGN §4b): every staff write, newest first, for admins."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import answers, api_view, query_int, query_str, query_time, require_role
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power
from chalicelib.domain.staff_actions import MAX_TARGET, ActionFilter, StaffAction

bp = Blueprint(__name__)


@bp.route("/v1/admin/actions", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:StaffActionPage")
def get_actions() -> dict[str, Any]:
    """List staff actions, newest first.

    `actor=` one person's, `target=` one thing's (`alert:<id>`, `run:<id>`,
    `citizen:<id>`), `since=` an ISO time.
    """
    request = bp.current_request
    require_role(request, Power.ACTIONS)
    which = ActionFilter(
        actor=query_str(request, "actor", max_length=128),
        target=query_str(request, "target", max_length=MAX_TARGET),
        since=query_time(request, "since"),
    )
    limit = query_int(request, "limit", default=50, low=1, high=200)
    cursor = query_str(request, "cursor", max_length=1024, code="invalid_cursor")
    page = wiring.staff_actions().page(which, limit, cursor)
    return {"actions": [action_view(a) for a in page.actions], "next_cursor": page.next_cursor}


def action_view(action: StaffAction) -> dict[str, Any]:
    return {
        "action_id": action.action_id,
        "at": iso(action.at),
        "actor": action.actor,
        "roles": list(action.roles),
        "action": action.action,
        "target": action.target,
        "detail": action.detail,
    }
