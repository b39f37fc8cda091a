"""Admin routes: what operators need to see, each for the roles that hold its power."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import answers, api_view, query_enum, query_int, query_str, require_role
from chalicelib.api.operator_actions import entry_view
from chalicelib.domain.clock import seoul_day
from chalicelib.domain.operations import QUARANTINE_SOURCES
from chalicelib.domain.roles import Power
from chalicelib.errors import BadRequest

if TYPE_CHECKING:
    from chalicelib.domain.totals import Totals

bp = Blueprint(__name__)


@bp.route("/v1/admin/quarantine", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("operator_schemas:QuarantinePage")
def get_quarantine() -> dict[str, Any]:
    """List quarantined device messages of one source, newest first.

    Messages that could not be processed, each with its reason and status.
    """
    request = bp.current_request
    require_role(request, Power.QUARANTINE_READ)
    source = query_enum(request, "source", QUARANTINE_SOURCES, default="deposits")
    limit = query_int(request, "limit", default=50, low=1, high=200)
    page = wiring.operations().quarantined(
        source, limit, query_str(request, "cursor", max_length=1024, code="invalid_cursor")
    )
    return {"items": [entry_view(q) for q in page.items], "next_cursor": page.next_cursor}


@bp.route("/v1/admin/dead-letters", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("operator_schemas:DeadLetters")
def get_dead_letters() -> dict[str, Any]:
    """Count the messages parked in every dead-letter and on-failure queue.

    Messages that failed every retry: each one is an incident to look at.
    """
    require_role(bp.current_request, Power.DEAD_LETTERS)
    return {
        "queues": [
            {
                "queue": p.queue,
                "kind": p.kind,
                "source": p.consumer,
                "messages": p.messages,
                "in_flight": p.in_flight,
            }
            for p in wiring.operations().parked()
        ]
    }


@bp.route("/v1/admin/stats", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:CityStats")
def get_stats() -> dict[str, Any]:
    """Read the city's totals, all time and for one Seoul day.

    `date=` (YYYY-MM-DD, today by default). Kept by counters from the ledger's stream,
    the step boards and settlements (never a scan).
    """
    request = bp.current_request
    require_role(request, Power.STATS)
    raw = query_str(request, "date")
    if raw is None:
        day = seoul_day(wiring.clock()())
    else:
        from chalicelib.domain.boards import InvalidBoard, parse_date

        try:
            day = parse_date(raw)
        except InvalidBoard as e:
            raise BadRequest(
                str(e), code="invalid_query", details=[{"field": "date", "problem": str(e)}]
            ) from e
    all_time, day_totals = wiring.operations().city_totals(day)
    return {
        **_totals_view(all_time),
        "today": {"date": day.isoformat(), **_totals_view(day_totals)},
    }


def _totals_view(totals: Totals) -> dict[str, Any]:
    """Points as invariant 3 splits them: issued == paid + held + pending. On a day's row
    each figure is that day's movement (pending falls on the day a run is settled)."""
    return {
        "points_issued": totals.points_issued,
        "points_paid": totals.points_settled,
        "points_held": totals.points_held,
        "points_pending": totals.points_pending,
        "points_forfeited": totals.points_forfeited,
        "items_recycled": totals.items_recycled,
        "items_by_material": dict(totals.materials),
        "steps_synced": totals.steps_synced,
        "ledger_entries": totals.entries,
    }
