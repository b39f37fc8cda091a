"""Operators hold a shelter's purifier by hand (DESIGN §4b "Purifier control"):
`PUT /v1/admin/shelters/{id}/purifier {"mode", "minutes"}` and `DELETE` to end it, and the
staff view of a shelter (`GET /v1/admin/shelters/{id}`), which shows the override. The rules
are in chalicelib/services/purifier.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.fleet import DEVICE_ID, override_view, shelter_view
from chalicelib.api.http import actor, answers, api_view, parse_body, require_role
from chalicelib.domain.roles import Power
from chalicelib.errors import NotFound

if TYPE_CHECKING:
    from chalicelib.domain.fleet import DeviceState

bp = Blueprint(__name__)


def staff_shelter_view(state: DeviceState, now: datetime) -> dict[str, Any]:
    return {**shelter_view(state, now), "override": override_view(state, now)}


def _answer(state: DeviceState, now: datetime) -> dict[str, Any]:
    """The staff view; a shadow update left in the outbox (the data plane failed) is logged
    and counted: the health job sends it, and the view's `purifier.shadow_desired` shows
    the shadow has not followed yet."""
    from chalicelib.domain.purifier import OUTBOX_KEY

    if any(pending.key == OUTBOX_KEY for pending in state.outbox):
        wiring.logger.warning("purifier shadow update pending", extra={"device": state.device_id})
        wiring.count("PurifierShadowPending")
    return staff_shelter_view(state, now)


def _shelter_id(device_id: str) -> str:
    if not DEVICE_ID.fullmatch(device_id):
        raise NotFound(f"no shelter {device_id[:128]!r}", code="shelter_not_found")
    return device_id


@bp.route("/v1/admin/shelters/{device_id}", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:StaffShelter")
def get_staff_shelter(device_id: str) -> dict[str, Any]:
    """Read a shelter as staff see it: its public view and the purifier override."""
    require_role(bp.current_request, Power.DEVICES)
    service = wiring.purifier()
    return staff_shelter_view(service.shelter(_shelter_id(device_id)), service.now())


@bp.route("/v1/admin/shelters/{device_id}/purifier", methods=["PUT"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:StaffShelter")
def put_purifier(device_id: str) -> dict[str, Any]:
    """Hold a shelter's purifier at a mode for some minutes.

    `{mode, minutes}` (1-1440); a new override replaces the last. Answers the staff view
    of the shelter.
    """
    from chalicelib.domain.purifier import PurifierOverrideRequest

    request = bp.current_request
    who = require_role(request, Power.PURIFIER)
    shelter_id = _shelter_id(device_id)
    wanted = parse_body(request, PurifierOverrideRequest)
    service = wiring.purifier()
    state = service.override(shelter_id, wanted.mode, wanted.minutes, actor(who))
    return _answer(state, service.now())


@bp.route("/v1/admin/shelters/{device_id}/purifier", methods=["DELETE"], authorizer=jwt_auth)
@api_view
@answers("staff_schemas:StaffShelter")
def delete_purifier(device_id: str) -> dict[str, Any]:
    """End a shelter's purifier override now.

    Automatic control (high while the air is bad) takes over; with no override, changes
    nothing. Answers the staff view of the shelter.
    """
    who = require_role(bp.current_request, Power.PURIFIER)
    service = wiring.purifier()
    state = service.release(_shelter_id(device_id), actor(who))
    return _answer(state, service.now())
