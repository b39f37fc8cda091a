"""Citizen routes under /v1/me."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.auth import jwt_auth
from chalicelib.api.http import api_view, parse_body, principal, query_int, query_str
from chalicelib.domain.clock import iso
from chalicelib.services.citizens import ProfileRequest, profile_view

bp = Blueprint(__name__)


@bp.route("/v1/me", methods=["PUT"], authorizer=jwt_auth)
@api_view
def put_me() -> dict[str, Any]:
    request = bp.current_request
    body = parse_body(request, ProfileRequest)
    return profile_view(wiring.citizens().register(principal(request).citizen_id, body))


@bp.route("/v1/me", methods=["GET"], authorizer=jwt_auth)
@api_view
def get_me() -> dict[str, Any]:
    return profile_view(wiring.citizens().profile(principal(bp.current_request).citizen_id))


@bp.route("/v1/me/deposit-codes", methods=["POST"], authorizer=jwt_auth)
@api_view
def post_deposit_code() -> Response:
    issued = wiring.citizens().issue_deposit_code(principal(bp.current_request).citizen_id)
    return Response(
        body={"code": issued.code, "expires_at": iso(issued.expires_at)}, status_code=201
    )


@bp.route("/v1/me/ledger", methods=["GET"], authorizer=jwt_auth)
@api_view
def get_ledger() -> dict[str, Any]:
    request = bp.current_request
    citizen_id = principal(request).citizen_id
    limit = query_int(request, "limit", default=20, low=1, high=100)
    cursor = query_str(request, "cursor")
    page = wiring.points_store().ledger_page(citizen_id, limit, cursor)
    return {
        "entries": [
            {
                "entry_id": e.entry_id,
                "kind": e.kind,
                "points": int(e.points),
                "balance_after": int(e.balance_after),
                "created_at": iso(e.created_at),
                "detail": e.detail.as_dict() if hasattr(e.detail, "as_dict") else dict(e.detail),
            }
            for e in page.entries
        ],
        "next_cursor": page.next_cursor,
    }
