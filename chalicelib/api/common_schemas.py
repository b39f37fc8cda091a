"""What the answer models of every route share, citizen's and staff's alike (the OpenAPI
document only: nothing here is imported at a view's cold start): the `Answer` base, the
value types (`Instant`, `Month`, `Cursor`) and every closed value set, each one named enum
component built from the values the domain itself judges with, so the document cannot name
a value the domain does not and a generated client gets one enum class per set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, get_args, get_type_hints

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain import (
    air,
    alerts,
    boards,
    challenges,
    corrections,
    fleet,
    kpis,
    ledger,
    ledger_audit,
    notifications,
    operations,
    payout_runs,
    projects,
    roles,
)
from chalicelib.domain.districts import districts


class Answer(BaseModel):
    """An answer body: exactly these fields (`additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")


Instant = dt.datetime
"""A UTC instant as the API writes it (ISO 8601 with its offset: `format: date-time`)."""

Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
"""A calendar month, `YYYY-MM` (Asia/Seoul)."""

Cursor = Annotated[str | None, Field(description="the next page's cursor; null on the last")]


class Chunks(Answer):
    """How far a job split in chunks is: `done` of `expected`."""

    done: int
    expected: int


def district_codes() -> list[str]:
    """The city's district codes, as kept in chalicelib/data/districts.json."""
    return list(districts())


def board_scopes() -> list[str]:
    """A step board's scope: the city, or one district (`district:<code>`)."""
    return [boards.CITY, *(boards.district_scope(code) for code in district_codes())]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent_unless(description: str) -> Any:
    """A field left out of the answer when it does not apply (never sent as null): with
    `X | SkipJsonSchema[None]`, the document says "optional, of type X"."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


def named_enum(name: str, values: Iterable[str], description: str) -> Any:
    """A closed value set as one named component of the document, so that a generated client
    has one type for it (a `District`, not one enum per field that holds a district). Built
    from the domain's own values: the document cannot name one the domain does not."""
    enum = StrEnum(name, {value: value for value in values})  # type: ignore[misc]
    enum.__doc__ = description
    return enum


def _literal(owner: type, field: str) -> tuple[str, ...]:
    """The values of a domain dataclass field typed as a `Literal`."""
    return get_args(get_type_hints(owner)[field])


if TYPE_CHECKING:  # to mypy each is the text it holds
    District: TypeAlias = str
    BoardScope: TypeAlias = str
    Period: TypeAlias = str
    AirGrade: TypeAlias = str
    DeviceType: TypeAlias = str
    DeviceStatus: TypeAlias = str
    PurifierMode: TypeAlias = str
    AlertKind: TypeAlias = str
    AlertSeverity: TypeAlias = str
    AlertStatus: TypeAlias = str
    TimelineEvent: TypeAlias = str
    LedgerKind: TypeAlias = str
    CitizenStatus: TypeAlias = str
    CorrectionStatus: TypeAlias = str
    StaffRole: TypeAlias = str
    AuditStatus: TypeAlias = str
    AuditProblem: TypeAlias = str
    QuarantineSource: TypeAlias = str
    QuarantineStatus: TypeAlias = str
    ReplayResult: TypeAlias = str
    ParkedQueueKind: TypeAlias = str
    RunStatus: TypeAlias = str
    SkipReason: TypeAlias = str
    ExportFormat: TypeAlias = str
    ChallengeKind: TypeAlias = str
    ChallengeStatus: TypeAlias = str
    PrizeType: TypeAlias = str
    DrawScheme: TypeAlias = str
    KpiPeriod: TypeAlias = str
    LiveService: TypeAlias = str
    NotificationKind: TypeAlias = str
    PushPlatform: TypeAlias = str
    ProjectField: TypeAlias = str
    ProjectStatus: TypeAlias = str
    Funding: TypeAlias = str
else:
    from chalicelib.domain.citizens import CITIZEN_STATUS, CLOSED_STATUS
    from chalicelib.domain.transfer_files import TRANSFER_FORMAT_NAMES

    District = named_enum(
        "District",
        district_codes(),
        "One of the city's districts (chalicelib/data/districts.json).",
    )
    BoardScope = named_enum(
        "BoardScope", board_scopes(), "A step board's scope: `city`, or `district:<code>`."
    )
    Period = named_enum(
        "Period",
        boards.PERIOD_KINDS,
        "A board's period: one Seoul day, or the ISO week (Monday to Sunday) holding it.",
    )
    AirGrade = named_enum(
        "AirGrade",
        (grade.value for grade in air.AirGrade),
        "The air's grade by the worse of PM10 and PM2.5 (Korean standard breakpoints).",
    )
    DeviceType = named_enum(
        "DeviceType", get_args(fleet.DeviceType), "A smart shelter or a recycling robot."
    )
    DeviceStatus = named_enum(
        "DeviceStatus",
        fleet.PRESENCES,
        "`offline`: the device has not been heard from for a while, or said goodbye.",
    )
    PurifierMode = named_enum(
        "PurifierMode",
        air.PURIFIER_MODES,
        "A shelter's air purifier: `auto` follows the air, `high` and `off` hold it.",
    )
    AlertKind = named_enum("AlertKind", alerts.KINDS, "What an alert is about.")
    AlertSeverity = named_enum(
        "AlertSeverity",
        alerts.SEVERITIES,
        "How urgent an alert is (air: `major` at bad, `critical` at very bad).",
    )
    AlertStatus = named_enum(
        "AlertStatus", alerts.STATUSES, "`active` until the condition clears (or staff clear it)."
    )
    TimelineEvent = named_enum(
        "TimelineEvent", get_args(alerts.TimelineEvent), "What happened to an alert."
    )
    LedgerKind = named_enum(
        "LedgerKind",
        get_args(ledger.LedgerKind),
        "What moved the points: a deposit, a prize, a payout, its reversal, a correction.",
    )
    CitizenStatus = named_enum(
        "CitizenStatus",
        (CITIZEN_STATUS, CLOSED_STATUS),
        "A citizen's account as support sees it (`closed`: a tombstone, its ledger kept).",
    )
    CorrectionStatus = named_enum(
        "CorrectionStatus",
        corrections.STATUSES,
        "A points correction: proposed (`pending`), then approved or rejected by another.",
    )
    StaffRole = named_enum(
        "StaffRole", roles.ROLES, "A staff role (DESIGN §4b), as a token's `cognito:groups`."
    )
    AuditStatus = named_enum(
        "AuditStatus", _literal(ledger_audit.AuditSummary, "status"), "Where a ledger audit is."
    )
    AuditProblem = named_enum(
        "AuditProblem",
        _literal(ledger_audit.Discrepancy, "problem"),
        "What the audit found wrong with a citizen's ledger.",
    )
    QuarantineSource = named_enum(
        "QuarantineSource",
        operations.QUARANTINE_SOURCES,
        "Who quarantined the message: the deposits handler, the fleet's, the rules' errors.",
    )
    QuarantineStatus = named_enum(
        "QuarantineStatus",
        get_args(operations.QuarantineStatus),
        "`open` until reprocessed or discarded.",
    )
    ReplayResult = named_enum(
        "ReplayResult",
        _literal(operations.Replayed, "result"),
        "What a message sent through its handler again did.",
    )
    ParkedQueueKind = named_enum(
        "ParkedQueueKind",
        _literal(operations.ParkedMessages, "kind"),
        "A queue's dead letters, or a stream handler's failed batches.",
    )
    RunStatus = named_enum(
        "RunStatus",
        get_args(payout_runs.RunStatus),
        "A payout run: `running` -> `ready` -> `approved` -> `settled`.",
    )
    SkipReason = named_enum(
        "SkipReason", payout_runs.SKIP_REASONS, "Why a citizen is not in a payout run."
    )
    ExportFormat = named_enum(
        "ExportFormat", TRANSFER_FORMAT_NAMES, "A payout run's transfer file: CSV or xlsx."
    )
    ChallengeKind = named_enum(
        "ChallengeKind",
        challenges.KINDS,
        "`total_steps`: steps summed (each day up to `daily_cap`); `daily_goal`: days at or "
        "above `daily_goal`; `recycle_items`: items credited.",
    )
    ChallengeStatus = named_enum(
        "ChallengeStatus", challenges.STATUSES, "Where today is against a challenge's window."
    )
    PrizeType = named_enum(
        "PrizeType", get_args(challenges.PrizeType), "Who of the finishers wins the prize."
    )
    DrawScheme = named_enum(
        "DrawScheme",
        (challenges.DRAW_PSEUDONYMS, challenges.DRAW_CITIZEN_IDS),
        "`pseudonyms-v1`: the lists are per-challenge pseudonyms; `citizen-ids`: an old draw "
        "whose lists are withheld.",
    )
    KpiPeriod = named_enum(
        "KpiPeriod",
        kpis.PERIOD_KINDS,
        "A KPI's period: a Seoul day, the ISO week (Monday first) or the month holding it.",
    )
    LiveService = named_enum(
        "LiveService", kpis.SERVICES, "A live service of the city that publishes KPIs."
    )
    NotificationKind = named_enum(
        "NotificationKind",
        notifications.KINDS,
        "What a notification tells (DESIGN §4c); `phone_number_moved`: another citizen "
        "proved the number linked to this account.",
    )
    PushPlatform = named_enum(
        "PushPlatform", notifications.PLATFORMS, "`fcm`: Android (Firebase); `apns`: iPhone."
    )
    # The project registry (DESIGN §4d)
    ProjectField = named_enum(
        "ProjectField",
        projects.FIELD_CODES,
        "A smart project's field (chalicelib/data/project_fields.json); `field_name` beside "
        "it is the field's Korean name.",
    )
    ProjectStatus = named_enum("ProjectStatus", projects.STATUSES, "Where a project is.")
    Funding = named_enum(
        "Funding",
        projects.FUNDINGS,
        "`national`: national or provincial grants; `city`: the city's own budget.",
    )


# Query values typed by their name (openapi.QUERY_VOCABULARY): the document gives a query
# parameter whose values are one of the sets above that set's component -------------------

MONTH_QUERY: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}$",
    "description": "a calendar month, YYYY-MM (Asia/Seoul)",
}

SEOUL_DAY_QUERY: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "description": "an Asia/Seoul day, YYYY-MM-DD (default: today)",
}
BOARD_SCOPE_QUERY: dict[str, Any] = {
    "type": "string",
    "enum": board_scopes(),
    "default": boards.CITY,
    "description": "`city`, or one district as `district:<code>`",
}
NEAR_QUERY: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[+-]?[0-9]{1,3}(\.[0-9]{1,15})?,[+-]?[0-9]{1,3}(\.[0-9]{1,15})?$",
    "maxLength": 64,
    "description": "a point, `<lat>,<lon>` in decimal degrees (latitude -90..90, longitude "
    "-180..180): the answer is the nearest first, each with `distance_m`, `limit` of them",
}
DISTRICT_QUERY: dict[str, Any] = {
    "type": "string",
    "enum": district_codes(),
    "description": "one of the city's districts (chalicelib/data/districts.json)",
}

YEAR_QUERY: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9]{4}$",
    "description": "a calendar year, YYYY",
}
