"""The answers of the shelter and robot routes (DESIGN §4 "Shapes the apps rely on") and of
the operators' `GET /v1/admin/devices`, for the OpenAPI document. `Shelter` and
`PurifierOverride` are also what the staff's view of a shelter is made of
(`staff_schemas.StaffShelter`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.common_schemas import (
    AirGrade,
    AlertKind,
    AlertSeverity,
    Answer,
    DeviceStatus,
    District,
    PurifierMode,
)

DistanceM = Annotated[
    int | None,
    Field(
        ge=0,
        description="metres from `near` (great-circle, rounded); present only with `near`",
    ),
]


class DeviceLocation(Answer):
    lat: float
    lon: float


class ShelterAir(Answer):
    """The latest reading (µg/m³) and its grade; nulls before the first reading."""

    pm10: float | None
    pm25: float | None
    grade: AirGrade | None
    updated_at: dt.datetime | None


class Chargers(Answer):
    total: int | None
    in_use: int | None


class Climate(Answer):
    temp_c: float | None
    humidity: float | None
    co2_ppm: float | None


class ShelterPurifier(Answer):
    reported: PurifierMode | None = Field(description="what the shelter says it runs")
    desired: PurifierMode | None = Field(description="what the cloud decided")
    shadow_desired: str | None = Field(
        description="what the shelter's shadow asks now (the cloud sets it back to `desired`)"
    )


class Shelter(Answer):
    device_id: str
    name: str
    district: District
    location: DeviceLocation
    status: DeviceStatus
    air: ShelterAir
    chargers: Chargers
    occupancy: int | None
    climate: Climate
    purifier: ShelterPurifier
    last_seen: dt.datetime | None
    distance_m: DistanceM = None


class ShelterList(Answer):
    shelters: list[Shelter]


class AirHour(Answer):
    hour: dt.datetime = Field(description="the hour's start")
    pm10: float | None
    pm25: float | None
    grade: AirGrade | None
    samples: int = Field(ge=1)


class AirHistory(Answer):
    """Hourly means, oldest first; hours without readings are left out."""

    device_id: str
    hours: int
    air: list[AirHour]


class Bins(BaseModel):
    """How full each bin is, 0 to 1 (null: not reported yet); a robot with other bins
    reports them too, by material."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, float | None] = Field(init=False)
    can: float | None
    pet: float | None


class Robot(Answer):
    device_id: str
    name: str
    district: District
    location: DeviceLocation
    status: DeviceStatus
    accepting: bool = Field(description="takes deposits now")
    bins: Bins
    fault: str | None
    last_seen: dt.datetime | None
    distance_m: DistanceM = None


class RobotList(Answer):
    robots: list[Robot]


class DeviceAlert(Answer):
    alert_id: str | None = Field(description="`/v1/admin/alerts/{id}` (null: an old episode)")
    kind: AlertKind
    severity: AlertSeverity | None
    since: dt.datetime
    detail: str


class PurifierOverride(Answer):
    """A purifier mode held by hand until `until`."""

    mode: PurifierMode
    until: dt.datetime
    by: str


class _DeviceHealth(Answer):
    device_id: str
    name: str
    district: District
    status: DeviceStatus
    last_seen: dt.datetime | None
    open_alerts: list[DeviceAlert]
    quarantined_messages: int
    deposits_while_not_accepting: int


class ShelterHealth(_DeviceHealth):
    type: Literal["shelter"]
    grade: AirGrade | None
    override: PurifierOverride | None


class RobotHealth(_DeviceHealth):
    type: Literal["robot"]
    accepting: bool


class DeviceList(Answer):
    """Fleet health: every device with its open alerts."""

    devices: list[Annotated[ShelterHealth | RobotHealth, Field(discriminator="type")]]
