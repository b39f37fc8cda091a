"""Value types the answer models share (OpenAPI document only: nothing here is imported at
a view's cold start). Closed value sets are enums, read from the same data and constants
the domain judges with, so the document cannot drift from what the views accept."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain import boards
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

# Named enums: each is one component of the document, so a generated client has one type
# for it (a `District`, not one enum per field that holds a district).
if TYPE_CHECKING:
    District = str
    BoardScope = str
else:
    District = StrEnum("District", {code: code for code in district_codes()})
    District.__doc__ = "One of the city's districts (chalicelib/data/districts.json)."
    BoardScope = StrEnum("BoardScope", {scope: scope for scope in board_scopes()})
    BoardScope.__doc__ = "A step board's scope: `city`, or one district as `district:<code>`."
DistrictCode = District


class Period(StrEnum):
    """A board's period: one Seoul day, or the ISO week (Monday to Sunday) holding it."""

    DAY = "day"
    WEEK = "week"


class DeviceStatus(StrEnum):
    """`offline`: the device has not been heard from for a while, or said goodbye."""

    ONLINE = "online"
    OFFLINE = "offline"


class PurifierMode(StrEnum):
    """A shelter's air purifier: `auto` follows the air, `high` and `off` hold it."""

    AUTO = "auto"
    HIGH = "high"
    OFF = "off"


class AlertKind(StrEnum):
    AIR = "air"
    BIN_FULL = "bin_full"
    FAULT = "fault"
    OFFLINE = "offline"


class AlertSeverity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


class LedgerKind(StrEnum):
    """What moved the points: a deposit, a prize, a payout, its reversal, a correction."""

    RECYCLING = "recycling"
    CHALLENGE_PRIZE = "challenge_prize"
    PAYOUT = "payout"
    PAYOUT_REVERSAL = "payout_reversal"
    CORRECTION = "correction"


class ChallengeKind(StrEnum):
    """`total_steps`: steps summed (each day up to `daily_cap`); `daily_goal`: days at or
    above `daily_goal`; `recycle_items`: items credited."""

    TOTAL_STEPS = "total_steps"
    DAILY_GOAL = "daily_goal"
    RECYCLE_ITEMS = "recycle_items"


class ChallengeStatus(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    ENDED = "ended"


class PrizeType(StrEnum):
    ALL_FINISHERS = "all_finishers"
    FIRST_N = "first_n"
    LOTTERY = "lottery"


class DrawScheme(StrEnum):
    """`pseudonyms-v1`: the lists are per-challenge pseudonyms; `citizen-ids`: an old draw
    whose lists are withheld."""

    PSEUDONYMS_V1 = "pseudonyms-v1"
    CITIZEN_IDS = "citizen-ids"


# Query values (`http.query_str(..., schema="common_schemas:NAME")`) -----------------------

SEOUL_DAY_QUERY: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "description": "an Asia/Seoul day, YYYY-MM-DD (default: today)",
}
BOARD_SCOPE_QUERY: dict[str, Any] = {**BOARD_SCOPE_SCHEMA, "default": boards.CITY}
DISTRICT_QUERY: dict[str, Any] = DISTRICT_SCHEMA
