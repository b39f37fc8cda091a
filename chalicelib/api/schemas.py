"""The pydantic models of what arrives at the edge: HTTP request bodies and the topic rule's
envelope. Imported where they are used, not by app.py: building a model costs milliseconds
and pydantic itself tens of them, which the functions that never parse one (admin routes,
stream handlers) should not pay at cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
)

from chalicelib.domain import names
from chalicelib.domain import recycling as rules

if TYPE_CHECKING:
    from chalicelib.domain.steps import DaySteps
    from chalicelib.services.citizens import ProfileUpdate


class ProfileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Annotated[
        StrictStr, StringConstraints(max_length=200), AfterValidator(names.public_name)
    ]
    """Shown on leaderboards: the public-name rule (chalicelib.domain.names) applies."""
    district: Annotated[StrictStr, StringConstraints(max_length=64)]
    phone: Annotated[StrictStr, StringConstraints(max_length=40)] | None = None

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return None if value is None else rules.normalize_mobile(value)

    def update(self) -> ProfileUpdate:
        from chalicelib.services.citizens import ProfileUpdate

        return ProfileUpdate(
            self.display_name, self.district, self.phone, "phone" in self.model_fields_set
        )


class DayStepsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: Annotated[StrictStr, StringConstraints(max_length=32)]
    steps: StrictInt
    """Exact integers only: `"100"`, `100.0` or `true` are not a count of steps."""


class StepsRequest(BaseModel):
    """`PUT /v1/me/steps`: the shape is checked here (400), the days are judged by the
    domain as a whole (422 naming each bad day)."""

    model_config = ConfigDict(extra="forbid")
    days: Annotated[list[DayStepsRequest], Field(max_length=64)]

    def days_synced(self) -> list[DaySteps]:
        from chalicelib.domain.steps import DaySteps

        return [DaySteps(d.date, d.steps) for d in self.days]


DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
"""A thing name as the fleet names them. (pydantic-core's regex anchors `$` at the very
end: unlike Python's `re`, it does not let a trailing newline through.)"""


class RuleEnvelope(BaseModel):
    """What the robot_deposits topic rule delivers: the raw payload, from the topic the
    device that sent it, and `received_at`, IoT Core's receipt time in epoch milliseconds
    (chalicelib.domain.receipt judges it; the rule adds client_id too, unused here)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    payload: str
    device_id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
    received_at: StrictInt | None = None
