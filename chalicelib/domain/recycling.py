"""Recycling rules: what a robot's deposit is, and what it earns (DESIGN §3, §5).

Pure Python: the device payload's model (chalicelib.events.intake types each deposit with
it at the edge), the rate table, the daily limit and the occurred_at window. The service
in chalicelib.services.recycling applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from chalicelib.domain.ledger import Account, Effect, PostedResult
from chalicelib.domain.phones import normalize_mobile

EVENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
EventId = Annotated[StrictStr, StringConstraints(pattern=EVENT_ID_PATTERN)]


# Device payloads are typed strictly (DESIGN §3): a count is an exact JSON integer (not
# "3", 3.0 or true) and a time is an RFC 3339 string with its offset (not epoch seconds),
# so a robot's bug is refused and quarantined with its reason instead of guessed at.
Count = Annotated[StrictInt, Field(ge=0, le=1000)]
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)


def rfc3339(value: object) -> datetime:
    """An RFC 3339 date-time with its offset, from its text only."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time string with an offset")
    return datetime.fromisoformat(value.upper())  # 3.11 reads 1-9 fraction digits


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(rfc3339)]


class CodeCitizen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Annotated[StrictStr, StringConstraints(pattern=r"^[0-9]{6}$")]


class PhoneCitizen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    phone: Annotated[StrictStr, StringConstraints(max_length=40)]

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        return normalize_mobile(value)


class DepositItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    material: Annotated[StrictStr, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    accepted: Count
    rejected: Count = 0


class Deposit(BaseModel):
    """A robot's deposit message, as the device contract defines it."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_id: EventId
    citizen: CodeCitizen | PhoneCitizen
    items: list[DepositItem] = Field(min_length=1, max_length=20)
    occurred_at: Rfc3339

    @model_validator(mode="after")
    def _distinct_materials(self) -> Deposit:
        materials = [item.material for item in self.items]
        if len(set(materials)) != len(materials):
            raise ValueError("each material may appear once")
        return self


RejectReason = Literal[
    "invalid_payload",
    "unknown_device",
    "unknown_citizen",
    "expired_code",
    "code_used",
    "unknown_material",
    "no_accepted_items",
    "occurred_at_out_of_range",
    "daily_limit",
]


class DepositRejected(Exception):
    """A deposit the city will not credit; the robot is told why."""

    def __init__(self, reason: RejectReason, message: str = ""):
        super().__init__(message or reason)
        self.reason: RejectReason = reason


SettledStatus = Literal["credited", "duplicate"]
AckStatus = Literal[SettledStatus, "rejected"]
PartialReason = Literal["daily_limit"]
"""Why a credited deposit earned less than its items: some were over the daily limit."""


class SettledAck(BaseModel):
    """`{city}/robots/{device_id}/deposits/ack` for a deposit credited now (`credited`) or
    before (`duplicate`: the first credit's points and balance again, nothing credited)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    event_id: EventId
    status: SettledStatus
    points: Annotated[StrictInt, Field(ge=0)]
    """The points this deposit earned (those over the daily limit earn none)."""
    balance: Annotated[StrictInt, Field(ge=0)]
    """The citizen's balance right after the credit."""
    reason: PartialReason | None = None
    """Present only when some items were over the daily limit."""


class RejectedAck(BaseModel):
    """`{city}/robots/{device_id}/deposits/ack` for a deposit the city will not credit, ever:
    a redelivery gets the same rejection. `event_id` is null only when the payload had no
    usable one (malformed JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    event_id: EventId | None
    status: Literal["rejected"]
    reason: RejectReason


AckMessage = SettledAck | RejectedAck
"""The ack's payload, as published: every ack is built through these models."""


@dataclass(frozen=True)
class DepositAck:
    """What the robot is told about one deposit (DESIGN §3): its screen shows it."""

    event_id: str | None
    status: AckStatus
    points: int | None = None
    balance: int | None = None
    reason: str | None = None

    def as_message(self) -> dict[str, Any]:
        """The ack's JSON document, built through its model (AckMessage): an ack the
        contract does not allow raises here, before anything is published."""
        message: dict[str, Any] = {"event_id": self.event_id, "status": self.status}
        if self.status != "rejected":
            message["points"] = self.points
            message["balance"] = self.balance
        if self.reason is not None:
            message["reason"] = self.reason
        model = RejectedAck if self.status == "rejected" else SettledAck
        return model.model_validate(message).model_dump(mode="json", exclude_unset=True)


def rejected(event_id: str | None, reason: str) -> DepositAck:
    return DepositAck(event_id, "rejected", reason=reason)


@dataclass(frozen=True)
class CodeRecord:
    code: str
    citizen_id: str
    issued_at: datetime
    expires_at: datetime
    used_by: str | None
    key: str = ""
    """Where the grant is kept (its number and issue slot; the bare number in the old layout)."""


@dataclass(frozen=True)
class FirstLook:
    """What one read finds before a deposit is decided: the device, the event's first result
    (if it was settled already), and the code or phone link that names the citizen."""

    device_type: str | None
    """The publishing device's registered type (`robot`), None when it is not registered."""
    settled: PostedResult | None
    codes: tuple[CodeRecord, ...]
    """The grants of the deposit's code that may cover its time (citizens.code_keys_at)."""
    phone_citizen_id: str | None
    account: Account | None = None
    """The citizen's account as the code or phone link last saw it (a snapshot)."""
    robot_accepting: bool = True
    """False when the robot's last status said a bin was full: it took the items anyway,
    the citizen is credited, and operators count such deposits."""


@dataclass(frozen=True)
class Credit:
    """What a deposit earns once the daily limit is applied."""

    points: int
    items_credited: int
    items_over_limit: int
    credited_by_material: dict[str, int]


def check_occurred_at(
    occurred_at: datetime, received_at: datetime, max_ahead: timedelta, max_behind: timedelta
) -> None:
    """Judged against when IoT Core received the deposit (DESIGN §5), never when it is
    processed: a backlog or a retry must not turn an accepted deposit into a rejection."""
    if occurred_at > received_at + max_ahead or occurred_at < received_at - max_behind:
        raise DepositRejected(
            "occurred_at_out_of_range", "occurred_at is too far from when the cloud received it"
        )


def compute_credit(
    items: list[DepositItem], rates: dict[str, int], credited_today: int, daily_limit: int
) -> Credit:
    """Points for the accepted items, in payload order, up to the day's remaining allowance."""
    unknown = sorted({item.material for item in items} - set(rates))
    if unknown:
        raise DepositRejected("unknown_material", f"no rate for {', '.join(unknown)}")
    if sum(item.accepted for item in items) == 0:
        raise DepositRejected("no_accepted_items", "no accepted items to credit")
    remaining = max(daily_limit - credited_today, 0)
    points = 0
    credited = 0
    over = 0
    by_material: dict[str, int] = {}
    for item in items:
        take = min(item.accepted, remaining - credited)
        over += item.accepted - take
        credited += take
        points += take * rates[item.material]
        by_material[item.material] = take
    if credited == 0:
        raise DepositRejected("daily_limit", "the day's item limit is reached")
    return Credit(points, credited, over, by_material)


# Effects a deposit's posting carries ----------------------------------------------------


@dataclass(frozen=True)
class ItemsCounted(Effect):
    """Effect: add to the citizen's items credited on a Seoul day (the daily limit's counter).

    Conditioned on the count read (`expected`; None: the day had no row yet), or, when the
    count was not read, on the items fitting under `limit`."""

    citizen_id: str
    day: str
    items: int
    expected: int | None
    limit: int | None = None


@dataclass(frozen=True)
class CodeConsumed(Effect):
    """Effect: mark a one-time deposit code used by this posting; refused if already used or
    held by another citizen."""

    code: str
    citizen_id: str
