"""The pydantic models of HTTP request bodies (device messages are read by
chalicelib.events.intake). Imported where they are used, not by app.py: building a model
costs milliseconds and pydantic itself tens of them, which the functions that never parse
one (admin routes, stream handlers) should not pay at cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
)

from chalicelib.domain import names, phones

if TYPE_CHECKING:
    from chalicelib.domain.steps import DaySteps
    from chalicelib.services.citizens import ProfileUpdate


class ProfileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Annotated[StrictStr, StringConstraints(max_length=400)]
    """Shown on leaderboards: the public-name rule (chalicelib.domain.names) judges it in
    update(), a 422 `invalid_display_name` naming the character class and its position."""
    district: Annotated[StrictStr, StringConstraints(max_length=64)]
    phone: Annotated[
        object,
        Field(
            exclude=True,
            description="Refused (422 phone_needs_verification): POST /v1/me/phone proves a number",
            json_schema_extra={"deprecated": True},
        ),
    ] = None
    """No longer taken (a 422 `phone_needs_verification`, whatever its value): a number is
    linked only once proven (PhoneRequest)."""

    def update(self) -> ProfileUpdate:
        from chalicelib.services.citizens import ProfileUpdate

        name = names.judged(self.display_name, names.DISPLAY_NAME, "display_name")
        return ProfileUpdate(name, self.district, "phone" in self.model_fields_set)


class PhoneRequest(BaseModel):
    """`POST /v1/me/phone`: the number to prove (a Korean mobile number, ASCII digits)."""

    model_config = ConfigDict(extra="forbid")
    phone: Annotated[StrictStr, StringConstraints(max_length=40)]

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        return phones.normalize_mobile(value)


class PhoneVerifyRequest(BaseModel):
    """`POST /v1/me/phone/verify`: the verification and the code its SMS carried."""

    model_config = ConfigDict(extra="forbid")
    verification_id: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    code: Annotated[StrictStr, StringConstraints(pattern=r"^[0-9]{6}$")]


class CloseRequest(BaseModel):
    """`DELETE /v1/me`: closing with points left gives them up only when asked to."""

    model_config = ConfigDict(extra="forbid")
    forfeit_points: StrictBool = False
    """`true`: a positive balance is forfeited (a `forfeit` ledger entry), not refused."""


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
