"""What operators do about refused and parked messages (DESIGN §4b "Quarantine and dead
letters"): reprocess or discard a quarantined message, redrive a dead-letter queue.

An entry id names its source and the entry: `<source>:<quarantine id>`
(`deposits:01JD3Q8Z6R4T2V9X0B7C5N1M8K`); anything else names nothing (404).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import actor, answers, api_view, parse_body, require_role
from chalicelib.domain.clock import iso
from chalicelib.domain.operations import QuarantinedMessage
from chalicelib.domain.roles import Power

bp = Blueprint(__name__)


def entry_view(q: QuarantinedMessage) -> dict[str, Any]:
    """A quarantine entry as staff see it: redacted (the message as it arrived is never
    shown), with its status and, once closed, who closed it, when and why."""
    return {
        "entry_id": q.entry_id,
        "quarantine_id": q.quarantine_id,
        "source": q.source,
        "status": q.status,
        "reason": q.reason,
        "device_id": q.device_id,
        "event_id": q.event_id,
        "details": q.details,
        "payload": q.payload,
        "received_at": iso(q.received_at),
        "reprocessable": q.reprocessable and q.status == "open",
        "closed_at": iso(q.closed_at) if q.closed_at else None,
        "closed_by": q.closed_by,
        "note": q.note,
        "outcome": q.outcome,
    }


@bp.route("/v1/admin/quarantine/{entry_id}/reprocess", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("operator_schemas:ReprocessedEntry")
def reprocess(entry_id: str) -> dict[str, Any]:
    """Send a quarantined message through its handler again.

    Answers the entry and what the handler did (`outcome`). Still refused: the entry
    stays open.
    """
    who = require_role(bp.current_request, Power.QUARANTINE_ACT)
    done = wiring.operator_actions().reprocess(entry_id, actor(who))
    return {**entry_view(done.entry), "outcome": done.outcome.view()}


@bp.route("/v1/admin/quarantine/{entry_id}/discard", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("operator_schemas:QuarantineEntry")
def discard(entry_id: str) -> dict[str, Any]:
    """Close an open quarantine entry without processing it.

    `{note}`: says why. Answers the closed entry.
    """
    request = bp.current_request
    who = require_role(request, Power.QUARANTINE_ACT)
    from chalicelib.api.operator_schemas import DiscardRequest

    body = parse_body(request, DiscardRequest)
    return entry_view(wiring.operator_actions().discard(entry_id, body.note, actor(who)))


@bp.route("/v1/admin/dead-letters/{queue}/redrive", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("operator_schemas:Redriven")
def redrive(queue: str) -> Response:
    """Move a dead-letter queue's messages back to the queue they failed on.

    `{max?}`: 202 with how many (a move task still moving in the background without
    `max`).
    """
    request = bp.current_request
    who = require_role(request, Power.DEAD_LETTERS)
    from chalicelib.api.operator_schemas import RedriveRequest

    limit = parse_body(request, RedriveRequest).max if request.raw_body else None
    moved = wiring.operator_actions().redrive(queue, limit, actor(who))
    return Response(body={"queue": queue, "moved": moved}, status_code=202)
