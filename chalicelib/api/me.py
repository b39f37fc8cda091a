"""Citizen routes under /v1/me: the request and answer shapes of DESIGN §4."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import (
    answers,
    api_view,
    caller,
    parse_body,
    parse_optional_body,
    principal,
    query_int,
    query_str,
)
from chalicelib.domain.clock import iso
from chalicelib.domain.districts import districts

if TYPE_CHECKING:
    from chalicelib.domain.citizens import Citizen
    from chalicelib.domain.ledger import LedgerPage

bp = Blueprint(__name__)


def account_view(citizen: Citizen, payout_account: dict[str, str] | None) -> dict[str, Any]:
    """A citizen's account as both the citizen (`GET /v1/me`) and support see it."""
    return {
        "citizen_id": citizen.citizen_id,
        "display_name": citizen.display_name,
        "district": citizen.district,
        "balance": citizen.balance,
        "lifetime_earned": citizen.lifetime_earned,
        "lifetime_paid": citizen.lifetime_paid,
        "phone_linked": citizen.phone_hash is not None,
        "payout_account": payout_account,
        "created_at": iso(citizen.created_at),
    }


def profile_view(
    citizen: Citizen,
    today_steps: int = 0,
    week_steps: int = 0,
    payout_account: dict[str, str] | None = None,
) -> dict[str, Any]:
    district = districts().get(citizen.district)
    return {
        **account_view(citizen, payout_account),
        "district_name": district.name if district else None,
        "today_steps": today_steps,
        "week_steps": week_steps,
        "updated_at": iso(citizen.updated_at),
    }


def ledger_view(page: LedgerPage) -> dict[str, Any]:
    """A page of a citizen's ledger, newest first (DESIGN §4)."""
    return {
        "entries": [
            {
                "entry_id": e.entry_id,
                "kind": e.kind,
                "points": e.points,
                "balance_after": e.balance_after,
                "created_at": iso(e.created_at),
                "detail": dict(e.detail),
            }
            for e in page.entries
        ],
        "next_cursor": page.next_cursor,
    }


@bp.route("/v1/me", methods=["PUT"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:Profile")
def put_me() -> dict[str, Any]:
    """Register, or update my display name and district."""
    from chalicelib.api.schemas import ProfileRequest

    request = bp.current_request
    body = parse_body(request, ProfileRequest)
    from chalicelib.api.payout_accounts import payout_account_view

    citizen_id = principal(request).citizen_id
    citizen = wiring.citizens().register(citizen_id, body.update())
    return profile_view(citizen, payout_account=payout_account_view(citizen_id))


@bp.route("/v1/me", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:Profile")
def get_me() -> dict[str, Any]:
    """My profile, points and this day's and week's steps."""
    # `caller`: the profile read refuses a closed account itself (no second read)
    citizen_id = caller(bp.current_request).citizen_id
    citizen = wiring.citizens().profile(citizen_id)
    walked = wiring.steps().totals(citizen_id)
    from chalicelib.api.payout_accounts import payout_account_view

    return profile_view(citizen, walked.today, walked.week, payout_account_view(citizen_id))


@bp.route("/v1/me/steps", methods=["PUT"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:StoredSteps")
def put_steps() -> dict[str, Any]:
    """Sync my daily step counts (up to 7 days back)."""
    from chalicelib.api.schemas import StepsRequest

    request = bp.current_request
    body = parse_body(request, StepsRequest)
    # `caller`: the sync's read of the citizen refuses a closed account (no second read)
    stored = wiring.steps().sync(caller(request).citizen_id, body.days_synced())
    wiring.count(wiring.STEP_SYNCS)
    return {"days": [{"date": day.isoformat(), "steps": steps} for day, steps in stored.items()]}


@bp.route("/v1/me/deposit-codes", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:DepositCode")
def post_deposit_code() -> Response:
    """A one-time 6-digit code to type at a robot (valid 5 minutes)."""
    # `caller`: issuing reads the profile, which refuses a closed account
    issued = wiring.citizens().issue_deposit_code(caller(bp.current_request).citizen_id)
    return Response(
        body={"code": issued.code, "expires_at": iso(issued.expires_at)}, status_code=201
    )


@bp.route("/v1/me/ledger", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:LedgerPage")
def get_ledger() -> dict[str, Any]:
    """My ledger entries, newest first."""
    request = bp.current_request
    citizen_id = principal(request).citizen_id
    limit = query_int(request, "limit", default=20, low=1, high=100)
    page = wiring.citizens().ledger(
        citizen_id, limit, query_str(request, "cursor", max_length=1024, code="invalid_cursor")
    )
    return ledger_view(page)


# Phone numbers, linked only once proven by an SMS code (DESIGN §4).


@bp.route("/v1/me/phone", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:PhoneVerification")
def post_phone() -> Response:
    """Send a code by SMS to prove a mobile number."""
    from chalicelib.api.schemas import PhoneRequest

    request = bp.current_request
    body = parse_body(request, PhoneRequest)
    sent = wiring.phones().send_code(principal(request).citizen_id, body.phone)
    return Response(
        body={"verification_id": sent.verification_id, "expires_at": iso(sent.expires_at)},
        status_code=202,
    )


@bp.route("/v1/me/phone/verify", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:Profile")
def post_phone_verify() -> dict[str, Any]:
    """Link the proven mobile number with the code it was sent."""
    from chalicelib.api.payout_accounts import payout_account_view
    from chalicelib.api.schemas import PhoneVerifyRequest

    request = bp.current_request
    body = parse_body(request, PhoneVerifyRequest)
    citizen_id = principal(request).citizen_id
    citizen = wiring.phones().verify(citizen_id, body.verification_id, body.code)
    return profile_view(citizen, payout_account=payout_account_view(citizen_id))


@bp.route("/v1/me/phone", methods=["DELETE"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:Profile")
def delete_phone() -> dict[str, Any]:
    """Unlink my mobile number."""
    from chalicelib.api.payout_accounts import payout_account_view

    citizen_id = principal(bp.current_request).citizen_id
    citizen = wiring.phones().unlink(citizen_id)
    return profile_view(citizen, payout_account=payout_account_view(citizen_id))


# My payouts and closing my account (DESIGN §4c, docs/account-closing.md).


@bp.route("/v1/me/payouts", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:MyPayouts")
def get_payouts() -> dict[str, Any]:
    """Every payout run that paid or skipped me, newest first; a failed one came back."""
    citizen_id = principal(bp.current_request).citizen_id
    items, skips = wiring.closing().payouts(citizen_id)
    return {
        "payouts": [
            {
                "run_id": p.run_id,
                "period": p.period,
                "points": p.points,
                "status": p.status,
                "updated_at": iso(p.updated_at),
                "credited_back": p.credited_back,
            }
            for p in items
        ],
        "skipped": [
            {"run_id": s.run_id, "period": s.period, "reason": s.reason, "at": iso(s.at)}
            for s in skips
        ],
    }


@bp.route("/v1/me", methods=["DELETE"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:ClosedAccount")
def delete_me() -> dict[str, Any]:
    """Close my account: my name, phone link, payout account and push tokens are erased.

    A positive balance is a 409 `balance_remaining` unless the body is
    `{"forfeit_points": true}`; a payout still being transferred is a 409 `payout_pending`.
    My ledger is kept under my id alone (financial records). Afterwards my tokens get 404
    `account_closed`, and a repeated close erases again and answers the same."""
    from chalicelib.api.schemas import CloseRequest

    request = bp.current_request
    body = parse_optional_body(request, CloseRequest)
    # `caller`, not `principal`: a repeated close must reach the service, which erases once
    # more what a close cut short may have left, then answers 404 `account_closed`.
    closed = wiring.closing().close(caller(request).citizen_id, body.forfeit_points)
    return {
        "citizen_id": closed.citizen_id,
        "closed_at": iso(closed.closed_at),
        "points_forfeited": closed.points_forfeited,
    }
