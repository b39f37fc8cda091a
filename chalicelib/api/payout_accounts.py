"""Payout account routes (DESIGN §4): a citizen sets where they are paid, and sees it back
masked (also in `GET /v1/me`)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import answers, api_view, parse_body, principal

bp = Blueprint(__name__)


@bp.route("/v1/me/payout-account", methods=["PUT"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:PayoutAccountAnswer")
def put_payout_account() -> dict[str, Any]:
    """Set the bank account I am paid to (shown back masked)."""
    from chalicelib.api.payout_schemas import PayoutAccountRequest
    from chalicelib.domain.payout_accounts import masked_view

    request = bp.current_request
    citizen_id = principal(request).citizen_id
    body = parse_body(request, PayoutAccountRequest)
    wiring.citizens().profile(citizen_id)  # registered first (404 otherwise)
    stored = wiring.payout_accounts().set_account(
        citizen_id, body.bank, body.account_number, body.holder
    )
    return {"payout_account": masked_view(stored)}


def payout_account_view(citizen_id: str) -> dict[str, str] | None:
    """`GET /v1/me`'s `payout_account`: masked, or None."""
    from chalicelib.domain.payout_accounts import masked_view

    stored = wiring.payout_accounts().account(citizen_id)
    return masked_view(stored) if stored else None
