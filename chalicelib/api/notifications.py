"""The citizen's inbox and phones for push (DESIGN §4c)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import answers, api_view, parse_body, principal, query_int, query_str
from chalicelib.domain.clock import iso

bp = Blueprint(__name__)


@bp.route("/v1/me/notifications", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("notification_schemas:Inbox")
def get_notifications() -> dict[str, Any]:
    """My notifications, newest first, and how many are unread."""
    request = bp.current_request
    citizen_id = principal(request).citizen_id
    limit = query_int(request, "limit", default=20, low=1, high=100)
    cursor = query_str(request, "cursor", max_length=1024, code="invalid_cursor")
    page = wiring.notifications().page(citizen_id, limit, cursor)
    return {
        "notifications": [
            {
                "notification_id": s.notice.notification_id,
                "kind": s.notice.kind,
                "title": s.notice.title,
                "body": s.notice.body,
                "created_at": iso(s.notice.created_at),
                "read": s.read,
            }
            for s in page.notifications
        ],
        "unread": page.unread,
        "next_cursor": page.next_cursor,
    }


@bp.route("/v1/me/notifications/read", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("notification_schemas:ReadMarked")
def post_notifications_read() -> dict[str, Any]:
    """Mark a notification of mine and every older one read.

    An id that is not in my inbox (another citizen's, or none at all) is a 404
    `notification_not_found` and marks nothing. Marking again changes nothing.
    """
    from chalicelib.api.notification_schemas import ReadRequest

    request = bp.current_request
    body = parse_body(request, ReadRequest)
    unread = wiring.notifications().mark_read(principal(request).citizen_id, body.up_to)
    return {"unread": unread}


@bp.route("/v1/me/push-tokens", methods=["PUT"], authorizer=jwt_auth)
@api_view
@answers("notification_schemas:PushTokenAnswer")
def put_push_token() -> dict[str, Any]:
    """Register this phone for push (a token another citizen registered moves to me)."""
    from chalicelib.api.notification_schemas import PushTokenRequest

    request = bp.current_request
    body = parse_body(request, PushTokenRequest)
    registered = wiring.notifications().register_token(
        principal(request).citizen_id, str(body.platform), body.token
    )
    return {"platform": registered.platform, "push": registered.push}


@bp.route("/v1/me/push-tokens/{token}", methods=["DELETE"], authorizer=jwt_auth)
@api_view
@answers("notification_schemas:PushTokenRemoved")
def delete_push_token(token: str) -> dict[str, Any]:
    """Forget a phone of mine (another citizen's token is a 404, as an unknown one)."""
    from urllib.parse import unquote

    # a token's `:` may come URL-encoded (`%3A`) or not: the same token either way
    citizen_id = principal(bp.current_request).citizen_id
    wiring.notifications().remove_token(citizen_id, unquote(token, errors="replace"))
    return {"removed": True}
