"""Citizen support (DESIGN §4b): find a citizen exactly by phone number or id, read their
profile and ledger; corrections proposed by support and decided by a second person."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from chalice import Blueprint, Response

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import (
    PATH_VALUE,
    actor,
    answers,
    api_view,
    parse_body,
    query_enum,
    query_int,
    query_str,
    require_role,
)
from chalicelib.api.me import account_view, ledger_view
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power
from chalicelib.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from chalicelib.domain.citizens import CitizenCard
    from chalicelib.domain.corrections import Correction

bp = Blueprint(__name__)

CORRECTION_ID: Final = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


# -- Look-ups ----------------------------------------------------------------------------


@bp.route("/v1/admin/citizens", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("support_schemas:CitizenMatches")
def find_citizens() -> dict[str, Any]:
    """Find the one citizen a phone number or citizen id names.

    Exactly one of `phone=` (any way a Korean mobile number is written) or
    `citizen_id=`: the one citizen it names, or none. No listing, no partial match.
    """
    from chalicelib.domain.phones import normalize_mobile

    request = bp.current_request
    require_role(request, Power.CITIZENS)
    phone = query_str(request, "phone", max_length=40)
    citizen_id = query_str(request, "citizen_id", max_length=256)
    if (phone is None) == (citizen_id is None):
        raise BadRequest("give exactly one of phone or citizen_id", code="invalid_query")
    support = wiring.support()
    if phone is not None:
        try:
            number = normalize_mobile(phone)
        except ValueError as e:
            # Never echo the number: the message and details name only the field.
            raise BadRequest(
                "phone is not a Korean mobile number",
                code="invalid_query",
                details=[{"field": "phone"}],
            ) from e
        found = support.find_by_phone(number)
    else:
        assert citizen_id is not None
        found = support.find_by_id(citizen_id) if PATH_VALUE.fullmatch(citizen_id) else []
    return {"citizens": [card_view(card) for card in found]}


@bp.route("/v1/admin/citizens/{citizen_id}", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("support_schemas:CitizenCard")
def get_citizen(citizen_id: str) -> dict[str, Any]:
    """Read a citizen as support sees them: profile, balance, payout account, status."""
    require_role(bp.current_request, Power.CITIZENS)
    return card_view(wiring.support().citizen(citizen_id))


@bp.route("/v1/admin/citizens/{citizen_id}/ledger", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("me_schemas:LedgerPage")
def get_citizen_ledger(citizen_id: str) -> dict[str, Any]:
    """Read a citizen's ledger, newest first (the shape of `GET /v1/me/ledger`)."""
    request = bp.current_request
    require_role(request, Power.CITIZENS)
    limit = query_int(request, "limit", default=20, low=1, high=100)
    cursor = query_str(request, "cursor", max_length=1024, code="invalid_cursor")
    return ledger_view(wiring.support().ledger(citizen_id, limit, cursor))


def card_view(card: CitizenCard) -> dict[str, Any]:
    from chalicelib.domain.citizens import CITIZEN_STATUS, CLOSED_STATUS
    from chalicelib.domain.payout_accounts import masked_view

    account = masked_view(card.payout_account) if card.payout_account else None
    status = CLOSED_STATUS if card.citizen.closed else CITIZEN_STATUS
    return {**account_view(card.citizen, account), "status": status}


# -- Corrections -------------------------------------------------------------------------


@bp.route("/v1/admin/citizens/{citizen_id}/corrections", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("support_schemas:Correction")
def post_correction(citizen_id: str) -> Response:
    """Propose a correction of a citizen's balance.

    `{points, reason, reference?}`: 201 with a new proposal; 200 with the first when the
    same person made the same proposal within a day (a double submit makes one).
    """
    from chalicelib.api.support_schemas import CorrectionRequest

    request = bp.current_request
    who = require_role(request, Power.CORRECTIONS_PROPOSE)
    body = parse_body(request, CorrectionRequest)
    proposed, new = wiring.corrections().propose(
        citizen_id, body.points, body.reason, body.reference, actor(who)
    )
    return Response(body=correction_view(proposed), status_code=201 if new else 200)


@bp.route("/v1/admin/corrections", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("support_schemas:CorrectionPage")
def get_corrections() -> dict[str, Any]:
    """List one status's corrections (`pending` by default), newest first."""
    from chalicelib.domain.corrections import STATUSES

    request = bp.current_request
    require_role(request, Power.CORRECTIONS_READ)
    status = query_enum(request, "status", STATUSES, default="pending")
    limit = query_int(request, "limit", default=50, low=1, high=200)
    cursor = query_str(request, "cursor", max_length=1024, code="invalid_cursor")
    page = wiring.corrections().queue(status, limit, cursor)  # type: ignore[arg-type]
    return {
        "corrections": [correction_view(c) for c in page.corrections],
        "next_cursor": page.next_cursor,
    }


@bp.route("/v1/admin/corrections/{correction_id}", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("support_schemas:Correction")
def get_correction(correction_id: str) -> dict[str, Any]:
    """Read one correction, pending or decided."""
    require_role(bp.current_request, Power.CORRECTIONS_READ)
    return correction_view(wiring.corrections().correction(_correction_id(correction_id)))


@bp.route("/v1/admin/corrections/{correction_id}/approve", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("support_schemas:Correction")
def approve_correction(correction_id: str) -> dict[str, Any]:
    """Approve a pending correction: it is posted once into the citizen's ledger.

    As a ledger entry of kind `correction`; never by its proposer (403 `same_person`); a
    debit below zero is a 409 `insufficient_balance` and stays pending.
    """
    who = require_role(bp.current_request, Power.CORRECTIONS_APPROVE)
    return correction_view(wiring.corrections().approve(_correction_id(correction_id), actor(who)))


@bp.route("/v1/admin/corrections/{correction_id}/reject", methods=["POST"], authorizer=jwt_auth)
@api_view
@answers("support_schemas:Correction")
def reject_correction(correction_id: str) -> dict[str, Any]:
    """Reject a pending correction (a second person); the ledger is not touched.

    `{note}`.
    """
    from chalicelib.api.support_schemas import RejectRequest

    request = bp.current_request
    who = require_role(request, Power.CORRECTIONS_APPROVE)
    body = parse_body(request, RejectRequest)
    return correction_view(
        wiring.corrections().reject(_correction_id(correction_id), body.note, actor(who))
    )


def _correction_id(raw: str) -> str:
    if not CORRECTION_ID.fullmatch(raw):
        raise NotFound("no such correction", code="correction_not_found")
    return raw


def correction_view(c: Correction) -> dict[str, Any]:
    return {
        "correction_id": c.correction_id,
        "citizen_id": c.citizen_id,
        "points": c.points,
        "reason": c.reason,
        "reference": c.reference,
        "status": c.status,
        "proposed_by": c.proposed_by,
        "proposed_at": iso(c.proposed_at),
        "decided_by": c.decided_by,
        "decided_at": iso(c.decided_at) if c.decided_at else None,
        "note": c.note,
        "entry_id": c.entry_id,
        "balance_after": c.balance_after,
    }
