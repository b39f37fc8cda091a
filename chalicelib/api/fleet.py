"""Shelters and robots over HTTP: the public routes (DESIGN §4: `GET /v1/shelters`,
`/v1/robots`, anyone may read them) and the operators' `GET /v1/admin/devices`. Their
messages arrive through chalicelib/events/device_messages.py."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.api.authorizer import jwt_auth
from chalicelib.api.http import answers, api_view, query_int, query_str, require_role
from chalicelib.domain.clock import iso
from chalicelib.domain.roles import Power
from chalicelib.errors import BadRequest, NotFound, Unprocessable

if TYPE_CHECKING:
    from chalicelib.domain.air import HourMeans
    from chalicelib.domain.fleet import DeviceState, DeviceType

bp = Blueprint(__name__)

DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # fullmatch: `$` lets a trailing "\n" in


# ---------------------------------------------------------------- views


def _location(state: DeviceState) -> dict[str, float]:
    return {"lat": state.lat, "lon": state.lon}


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def shelter_view(state: DeviceState, now: datetime) -> dict[str, Any]:
    return {
        "device_id": state.device_id,
        "name": state.name,
        "district": state.district,
        "location": _location(state),
        "status": state.status(now, wiring.fleet().silent_after),
        "air": {
            "pm10": state.pm10,
            "pm25": state.pm25,
            "grade": state.grade.value if state.grade else None,
            "updated_at": _when(state.air_at),
        },
        "chargers": {"total": state.chargers_total, "in_use": state.chargers_in_use},
        "occupancy": state.occupancy,
        "climate": {
            "temp_c": state.temp_c,
            "humidity": state.humidity,
            "co2_ppm": state.co2_ppm,
        },
        "purifier": {
            "reported": state.purifier_reported,  # what the shelter says it runs
            "desired": state.purifier_desired,  # what the cloud decided
            "shadow_desired": state.shadow_desired,  # what its shadow asks (the cloud resets it)
        },
        "last_seen": _when(state.last_seen),
    }


def override_view(state: DeviceState, now: datetime) -> dict[str, Any] | None:
    """The override holding the purifier now, or None (none, or its time is up)."""
    from chalicelib.domain.purifier import active_override

    held = active_override(state, now)
    if held is None:
        return None
    return {"mode": held.mode, "until": iso(held.until), "by": held.by}


def robot_view(state: DeviceState, now: datetime) -> dict[str, Any]:
    bins = dict(state.bins or {})
    return {
        "device_id": state.device_id,
        "name": state.name,
        "district": state.district,
        "location": _location(state),
        "status": state.status(now, wiring.fleet().silent_after),
        "accepting": state.accepting,
        "bins": {"can": bins.pop("can", None), "pet": bins.pop("pet", None), **bins},
        "fault": state.fault,
        "last_seen": _when(state.last_seen),
    }


def _hour_view(hour: HourMeans) -> dict[str, Any]:
    grade = hour.grade
    return {
        "hour": iso(hour.hour),
        "pm10": hour.pm10,
        "pm25": hour.pm25,
        "grade": grade.value if grade else None,
        "samples": hour.samples,
    }


def _district_param() -> str | None:
    from chalicelib.domain.districts import is_district

    district = query_str(bp.current_request, "district")
    if district is not None and not is_district(district):
        raise Unprocessable(f"unknown district {district[:64]!r}", code="unknown_district")
    return district


def _near() -> tuple[float, float, int] | None:
    """`?near=<lat>,<lon>` and its `limit` (1-50, default 10), or None without `near`.
    `limit` is checked whenever it is given (a value the document does not allow is a 400,
    as on every route) but only applies with `near`: without it the list is the whole one,
    as before `near` existed."""
    from chalicelib.domain.geo import BadPoint, parse_point

    raw = query_str(bp.current_request, "near", max_length=64)
    limit = query_int(bp.current_request, "limit", default=10, low=1, high=50)
    if raw is None:
        return None
    try:
        lat, lon = parse_point(raw)
    except BadPoint as e:
        raise BadRequest(str(e), code="invalid_query", details=[{"field": "near"}]) from e
    return lat, lon, limit


def _listed(device_type: DeviceType, view: Any) -> list[dict[str, Any]]:
    """The list of a type: nearest first with `distance_m` when `near` is given, else every
    device of the city or of `?district=` (the two do not combine)."""
    near = _near()
    district = _district_param()
    service = wiring.fleet()
    now = service.now()
    if near is None:
        return [view(s, now) for s in service.devices(device_type, district)]
    if district is not None:
        raise BadRequest("give near or district, not both", code="invalid_query")
    return [
        {**view(s, now), "distance_m": metres} for s, metres in service.nearest(device_type, *near)
    ]


def _one(device_id: str, device_type: DeviceType) -> DeviceState:
    known = DEVICE_ID.fullmatch(device_id)
    state = wiring.fleet().device(device_id, device_type) if known else None
    if state is None:
        raise NotFound(f"no {device_type} {device_id[:128]!r}", code=f"{device_type}_not_found")
    return state


# ---------------------------------------------------------------- public routes


@bp.route("/v1/shelters", methods=["GET"])
@api_view
@answers("fleet_schemas:ShelterList")
def list_shelters() -> dict[str, Any]:
    """Every shelter of the city, or of `?district=`; or the nearest to `?near=`.

    Every shelter: one Query, never a scan. `near=<lat>,<lon>` (decimal degrees): the
    `limit` (1-50, default 10) nearest shelters, nearest first, each with `distance_m`
    (great-circle, whole metres), from the location index (at most 8 small Queries and one
    BatchGetItem in the city; docs/fleet.md "Near me"). `limit` applies only with `near`."""
    return {"shelters": _listed("shelter", shelter_view)}


@bp.route("/v1/shelters/{device_id}", methods=["GET"])
@api_view
@answers("fleet_schemas:Shelter")
def get_shelter(device_id: str) -> dict[str, Any]:
    """One shelter's live state."""
    return shelter_view(_one(device_id, "shelter"), wiring.fleet().now())


@bp.route("/v1/shelters/{device_id}/air", methods=["GET"])
@api_view
@answers("fleet_schemas:AirHistory")
def get_shelter_air(device_id: str) -> dict[str, Any]:
    """A shelter's hourly PM10 and PM2.5 means, oldest first.

    The last `hours` (1-168, default 24); hours without readings are left out."""
    hours = query_int(bp.current_request, "hours", default=24, low=1, high=168)
    state = _one(device_id, "shelter")
    history = wiring.fleet().air_history(state.device_id, hours)
    return {"device_id": state.device_id, "hours": hours, "air": [_hour_view(h) for h in history]}


@bp.route("/v1/robots", methods=["GET"])
@api_view
@answers("fleet_schemas:RobotList")
def list_robots() -> dict[str, Any]:
    """Every robot of the city, or of `?district=`; or the nearest to `?near=`.

    As `GET /v1/shelters`: `near=<lat>,<lon>` answers the `limit` (1-50, default 10)
    nearest robots, nearest first, each with `distance_m`."""
    return {"robots": _listed("robot", robot_view)}


@bp.route("/v1/robots/{device_id}", methods=["GET"])
@api_view
@answers("fleet_schemas:Robot")
def get_robot(device_id: str) -> dict[str, Any]:
    """One robot's live state."""
    return robot_view(_one(device_id, "robot"), wiring.fleet().now())


# ---------------------------------------------------------------- operators


@bp.route("/v1/admin/devices", methods=["GET"], authorizer=jwt_auth)
@api_view
@answers("fleet_schemas:DeviceList")
def get_devices() -> dict[str, Any]:
    """Fleet health: every device with its open alerts (operators).

    Each device's state, when it was last heard, its open alerts (air included; `alert_id`
    names each in `/v1/admin/alerts/{id}`) and how many of its messages were quarantined
    (two Queries)."""
    require_role(bp.current_request, Power.DEVICES)
    service = wiring.fleet()
    now = service.now()
    devices = []
    kinds: tuple[DeviceType, ...] = ("shelter", "robot")
    for device_type in kinds:
        for state in service.devices(device_type):
            devices.append(
                {
                    "device_id": state.device_id,
                    "type": state.device_type,
                    "name": state.name,
                    "district": state.district,
                    "status": state.status(now, wiring.fleet().silent_after),
                    "last_seen": _when(state.last_seen),
                    "open_alerts": [
                        {
                            "alert_id": a.alert_id,
                            "kind": a.kind,
                            "severity": a.severity,
                            "since": iso(a.since),
                            "detail": a.detail,
                        }
                        for a in sorted(state.alerts.values(), key=lambda a: a.since)
                    ],
                    "quarantined_messages": state.quarantined,
                    "deposits_while_not_accepting": state.deposits_not_accepting,
                    **({"accepting": state.accepting} if device_type == "robot" else {}),
                    **(
                        {
                            "grade": state.grade.value if state.grade else None,
                            "override": override_view(state, now),
                        }
                        if device_type == "shelter"
                        else {}
                    ),
                }
            )
    return {"devices": devices}
