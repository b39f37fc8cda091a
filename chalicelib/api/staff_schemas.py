"""What the staff routes answer (DESIGN §4, §4b), as pydantic models: only the OpenAPI
document (chalicelib/api/openapi.py) imports them, through each view's `http.answers` mark,
so pydantic stays off the views' cold start. The views build plain dicts; the functional
tests check every answer against these models' JSON Schema (tests/contract.py), so a view
that answers another shape fails a test.

Shared pieces (`Answer`, `Instant`, `DistrictCode`, ...) and the answers of the stats,
audit, action log, reports and staff shelter routes are here; the alerts', quarantine's,
payout runs' and support's answers are in their own `*_schemas.py` beside their requests.

A closed value set is a named `RootModel` of the domain's own `Literal` (one component of
the document, e.g. `AlertKind`: a generated client gets one enum type, not one per field,
and the values cannot drift from the domain's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel

from chalicelib.domain import fleet
from chalicelib.domain.air import AirGrade
from chalicelib.domain.districts import districts


class Answer(BaseModel):
    """An answer's object: every field it has is named (additionalProperties false)."""

    model_config = ConfigDict(extra="forbid")


Instant = datetime
"""A UTC instant as the API writes it (ISO 8601 with its offset: `format: date-time`)."""

_DISTRICT_CODES: list[JsonValue] = [*sorted(districts())]


class DistrictCode(RootModel[str]):
    """One of the city's district codes (chalicelib/data/districts.json)."""

    model_config = ConfigDict(json_schema_extra={"enum": _DISTRICT_CODES})


Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
"""A calendar month, `YYYY-MM` (Asia/Seoul)."""

Cursor = Annotated[str | None, Field(description="the next page's cursor; null on the last")]


class StaffRole(RootModel[Literal["admin", "operator", "finance", "support"]]):
    """A staff role (DESIGN §4b), as the token's `cognito:groups` carry it."""


class DeviceType(RootModel[fleet.DeviceType]):
    """What a device is: a smart shelter or a recycling robot."""


# -- Stats (GET /v1/admin/stats) ---------------------------------------------------------


class TotalsFigures(Answer):
    """Points as invariant 3 splits them: issued == paid + held + pending."""

    points_issued: int
    points_paid: int
    points_held: int
    points_pending: int
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


class AuditChunks(Answer):
    done: int
    expected: int


class Discrepancy(Answer):
    citizen_id: str
    problem: Literal["chain_broken", "negative_balance", "balance_mismatch", "lifetime_mismatch"]
    balance: int
    ledger_sum: int
    detail: str


class StatsMismatch(Answer):
    stats: int
    audit: int | None


class StatsFigures(Answer):
    points_issued: int
    points_held: int
    points_paid: int
    points_pending: int


class AuditTotals(Answer):
    """Invariant 3 as the audit found it, and the stats counters checked against it."""

    points_issued: int
    points_paid: int
    points_held: int
    points_pending: int
    ledger_points_paid: int
    balanced: bool
    difference: int
    note: str | None = None
    stats: StatsFigures | None = None
    stats_match: bool | None = None
    stats_mismatches: dict[str, StatsMismatch] | None = None


class Audit(Answer):
    audit_id: str
    status: Literal["running", "done"]
    started_at: Instant
    started_by: str
    finished_at: Instant | None
    chunks: AuditChunks
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
    district: DistrictCode
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


class PurifierMode(RootModel[Literal["auto", "high", "off"]]):
    """The shelter shadow's `purifier`: `auto`, or held `high` or `off`."""


class Location(Answer):
    lat: float
    lon: float


class Air(Answer):
    pm10: float | None
    pm25: float | None
    grade: AirGrade | None
    updated_at: Instant | None


class Chargers(Answer):
    total: int | None
    in_use: int | None


class Climate(Answer):
    temp_c: float | None
    humidity: float | None
    co2_ppm: float | None


class Purifier(Answer):
    reported: str | None = Field(description="what the shelter says it runs")
    desired: PurifierMode | None = Field(description="what the cloud decided")
    shadow_desired: str | None = Field(description="what the shelter's shadow asks now")


class Override(Answer):
    mode: PurifierMode
    until: Instant
    by: str


class StaffShelter(Answer):
    """The public shelter view, and the operator's override holding its purifier (or null)."""

    device_id: str
    name: str
    district: DistrictCode
    location: Location
    status: Literal["online", "offline"]
    air: Air
    chargers: Chargers
    occupancy: int | None
    climate: Climate
    purifier: Purifier
    last_seen: Instant | None
    override: Override | None
