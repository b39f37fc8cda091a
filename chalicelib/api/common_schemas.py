"""Value types the answer models share (OpenAPI document only: nothing here is imported at
a view's cold start). Closed value sets are enums, read from the same data and constants
the domain judges with, so the document cannot drift from what the views accept."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain import air, alerts, boards, challenges, fleet, ledger
from chalicelib.domain.districts import districts


class Answer(BaseModel):
    """An answer body: exactly these fields (`additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")


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


def enum_schema(values: list[str], description: str) -> dict[str, Any]:
    return {"type": "string", "enum": values, "description": description}


DISTRICT_SCHEMA = enum_schema(
    district_codes(), "one of the city's districts (chalicelib/data/districts.json)"
)
BOARD_SCOPE_SCHEMA = enum_schema(board_scopes(), "`city`, or one district as `district:<code>`")


def named_enum(name: str, values: Iterable[str], description: str) -> Any:
    """A closed value set as one named component of the document, so that a generated client
    has one type for it (a `District`, not one enum per field that holds a district). Built
    from the domain's own values: the document cannot name one the domain does not."""
    enum = StrEnum(name, {value: value for value in values})  # type: ignore[misc]
    enum.__doc__ = description
    return enum


if TYPE_CHECKING:  # to mypy each is the text it holds
    District: TypeAlias = str
    BoardScope: TypeAlias = str
    Period: TypeAlias = str
    DeviceStatus: TypeAlias = str
    PurifierMode: TypeAlias = str
    AlertKind: TypeAlias = str
    AlertSeverity: TypeAlias = str
    LedgerKind: TypeAlias = str
    ChallengeKind: TypeAlias = str
    ChallengeStatus: TypeAlias = str
    PrizeType: TypeAlias = str
    DrawScheme: TypeAlias = str
else:
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
    AlertKind = named_enum("AlertKind", fleet.ALERT_KINDS, "What an alert is about.")
    AlertSeverity = named_enum("AlertSeverity", alerts.SEVERITIES, "How urgent an alert is.")
    LedgerKind = named_enum(
        "LedgerKind",
        get_args(ledger.LedgerKind),
        "What moved the points: a deposit, a prize, a payout, its reversal, a correction.",
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
DistrictCode = District


# Query values (`http.query_str(..., schema="common_schemas:NAME")`) -----------------------

SEOUL_DAY_QUERY: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "description": "an Asia/Seoul day, YYYY-MM-DD (default: today)",
}
BOARD_SCOPE_QUERY: dict[str, Any] = {**BOARD_SCOPE_SCHEMA, "default": boards.CITY}
DISTRICT_QUERY: dict[str, Any] = DISTRICT_SCHEMA
