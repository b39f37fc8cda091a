"""What the staff routes' own answers are (DESIGN §4, §4b): the stats, audit, action log,
reports and the staff view of a shelter, as pydantic models for the OpenAPI document
(chalicelib/api/openapi.py imports them through each view's `http.answers` mark, so pydantic
stays off the views' cold start). The alerts', quarantine's, payout runs' and support's
answers are in their own `*_schemas.py` beside their requests; what they share with the
citizen's routes (the `Answer` base, `Instant`, `Cursor`, every closed value set) is
common_schemas.py's, and the shapes both see (a shelter, an account, a ledger page) are
defined once, in the citizen's modules."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from chalicelib.api.common_schemas import (
    Answer,
    AuditProblem,
    AuditStatus,
    Chunks,
    Cursor,
    District,
    Instant,
    Month,
    StaffRole,
)
from chalicelib.api.fleet_schemas import PurifierOverride, Shelter

# -- Stats (GET /v1/admin/stats) ---------------------------------------------------------


class PointsSplit(Answer):
    """Points as invariant 3 splits them: issued == paid + held + pending + forfeited (by
    accounts closed with points left, docs/account-closing.md)."""

    points_issued: int
    points_paid: int
    points_held: int
    points_pending: int
    points_forfeited: int = 0


class TotalsFigures(PointsSplit):
    items_recycled: int
    items_by_material: dict[str, int]
    steps_synced: int
    ledger_entries: int


class DayTotals(TotalsFigures):
    date: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class CityStats(TotalsFigures):
    """All time, and one Seoul day's movement (`today`)."""

    today: DayTotals


# -- Ledger audit (GET and POST /v1/admin/audit) -----------------------------------------


class Discrepancy(Answer):
    citizen_id: str
    problem: AuditProblem
    balance: int
    ledger_sum: int
    detail: str


class StatsMismatch(Answer):
    stats: int
    audit: int | None


class AuditTotals(PointsSplit):
    """Invariant 3 as the audit found it, and the stats counters checked against it."""

    ledger_points_paid: int
    balanced: bool
    difference: int
    note: str | None = None
    stats: PointsSplit | None = None
    stats_match: bool | None = None
    stats_mismatches: dict[str, StatsMismatch] | None = None


class Audit(Answer):
    audit_id: str
    status: AuditStatus
    started_at: Instant
    started_by: str
    finished_at: Instant | None
    chunks: Chunks
    citizens_checked: int
    discrepancy_count: int
    discrepancies: list[Discrepancy]
    totals: AuditTotals | None


# -- The action log (GET /v1/admin/actions) ----------------------------------------------


class StaffAction(Answer):
    action_id: str
    at: Instant
    actor: str
    roles: list[StaffRole]
    action: str
    target: str
    detail: dict[str, Any]


class StaffActionPage(Answer):
    actions: list[StaffAction]
    next_cursor: Cursor


# -- Reports (GET /v1/admin/reports/recycling) -------------------------------------------


class DistrictRecycling(Answer):
    district: District
    name: str | None
    citizens: int
    items: dict[str, int]
    items_total: int


class RecyclingTotals(Answer):
    """A month's recycling, city-wide and by the citizens' districts."""

    month: Month
    closed: bool
    citizens: int
    items: dict[str, int]
    items_total: int
    districts: list[DistrictRecycling]


# -- A shelter as staff see it (/v1/admin/shelters/{id}) ---------------------------------


class StaffShelter(Shelter):
    """The public shelter view, and the operator's override holding its purifier (or null)."""

    override: PurifierOverride | None
