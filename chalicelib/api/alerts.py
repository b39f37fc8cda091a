"""Operators' alerts over HTTP (DESIGN §4b): the list, one alert with its timeline, and the
staff steps. Every route needs Power.ALERTS (operator, admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import (
    actor,
    answers,
    api_view,
    parse_body,
    query_enum,
    query_int,
    query_str,
    query_time,
    require_role,
)
from chalicelib.domain import alerts
from chalicelib.domain.alerts import Alert, AlertFilter
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power
from chalicelib.errors import Unprocessable

bp = Blueprint(__name__)


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def alert_view(alert: Alert, *, timeline: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "alert_id": alert.alert_id,
        "device_id": alert.device_id,
        "device_type": alert.device_type,
        "district": alert.district,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "acknowledged": alert.acknowledged,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": _when(alert.acknowledged_at),
        "assignee": alert.assignee,
        "raised_at": iso(alert.raised_at),
        "cleared_at": _when(alert.cleared_at),
        "updated_at": iso(alert.updated_at),
        "detail": alert.detail,
    }
    if timeline:
        view["timeline"] = [
            {"at": iso(e.at), "event": e.event, "by": e.by, "note": e.note} for e in alert.timeline
        ]
    return view


@bp.route("/v1/admin/alerts", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("alert_schemas:AlertPage")
def list_alerts() -> dict[str, Any]:
    """List alerts, most recently updated first.

    `status=active` (the default), `cleared` or `all`; filters `acknowledged`, `kind`,
    `severity`, `district`, `updated_since`.
    """
    request = bp.current_request
    require_role(request, Power.ALERTS)
    acknowledged = query_enum(request, "acknowledged", ("true", "false"), "")
    kind = query_enum(request, "kind", alerts.KINDS, "")
    severity = query_enum(request, "severity", alerts.SEVERITIES, "")
    which = AlertFilter(
        status=query_enum(request, "status", ("active", "cleared", "all"), "active"),  # type: ignore[arg-type]
        acknowledged=None if not acknowledged else acknowledged == "true",
        kind=kind or None,
        severity=severity or None,
        district=_district(query_str(request, "district")),
        updated_since=query_time(request, "updated_since"),
    )
    limit = query_int(request, "limit", default=50, low=1, high=200)
    cursor = query_str(request, "cursor", max_length=1024, code="invalid_cursor")
    page = wiring.alerts().alerts(which, limit, cursor)
    return {"alerts": [alert_view(a) for a in page.alerts], "next_cursor": page.next_cursor}


def _district(district: str | None) -> str | None:
    from chalicelib.domain.districts import is_district

    if district is not None and not is_district(district):
        raise Unprocessable(f"unknown district {district[:64]!r}", code="unknown_district")
    return district


@bp.route("/v1/admin/alerts/{alert_id}", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("alert_schemas:Alert")
def get_alert(alert_id: str) -> dict[str, Any]:
    """Read one alert with its timeline (`by` is null for the system)."""
    require_role(bp.current_request, Power.ALERTS)
    return alert_view(wiring.alerts().alert(alert_id), timeline=True)


@bp.route("/v1/admin/alerts/{alert_id}/acknowledge", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("alert_schemas:Alert")
def acknowledge_alert(alert_id: str) -> dict[str, Any]:
    """Acknowledge an alert, with an optional note.

    `{note?}`: acknowledged once; a repeat answers the alert unchanged.
    """
    request = bp.current_request
    who = require_role(request, Power.ALERTS)
    from chalicelib.api.alert_schemas import AlertAcknowledgeRequest

    body = (
        parse_body(request, AlertAcknowledgeRequest)
        if request.raw_body
        else AlertAcknowledgeRequest()
    )
    note = alerts.optional_text(body.note, "note")
    done = wiring.alerts().acknowledge(alert_id, actor(who), note)
    return alert_view(done, timeline=True)


@bp.route("/v1/admin/alerts/{alert_id}/assign", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("alert_schemas:Alert")
def assign_alert(alert_id: str) -> dict[str, Any]:
    """Assign an alert to a staff member, or to nobody.

    `{assignee}`: a staff member's id, or null.
    """
    request = bp.current_request
    who = require_role(request, Power.ALERTS)
    from chalicelib.api.alert_schemas import AlertAssignRequest

    body = parse_body(request, AlertAssignRequest)
    if body.assignee is not None and not alerts.ASSIGNEE.fullmatch(body.assignee):
        raise Unprocessable(
            "assignee is a staff member's id: letters, digits and . _ @ + -, up to 128",
            code="validation_failed",
            details=[{"field": "assignee", "problem": "not a staff member's id"}],
        )
    done = wiring.alerts().assign(alert_id, actor(who), body.assignee)
    return alert_view(done, timeline=True)


@bp.route("/v1/admin/alerts/{alert_id}/comments", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("alert_schemas:Alert")
def comment_alert(alert_id: str) -> dict[str, Any]:
    """Add a comment to an alert's timeline.

    `{text}`: 1-500 characters.
    """
    request = bp.current_request
    who = require_role(request, Power.ALERTS)
    from chalicelib.api.alert_schemas import AlertCommentRequest

    text = alerts.text(parse_body(request, AlertCommentRequest).text, "text")
    return alert_view(wiring.alerts().comment(alert_id, actor(who), text), timeline=True)


@bp.route("/v1/admin/alerts/{alert_id}/clear", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("alert_schemas:Alert")
def clear_alert(alert_id: str) -> dict[str, Any]:
    """Clear a fault or full-bin alert by hand, after a site visit.

    `{note}`: air and offline alerts clear themselves (409 `clears_itself`).
    """
    request = bp.current_request
    who = require_role(request, Power.ALERTS)
    from chalicelib.api.alert_schemas import AlertClearRequest

    note = alerts.text(parse_body(request, AlertClearRequest).note, "note")
    return alert_view(wiring.alerts().clear(alert_id, actor(who), note), timeline=True)
