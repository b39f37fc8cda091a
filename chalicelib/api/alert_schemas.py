"""Request bodies of the alert routes (chalicelib/api/alerts.py), imported inside the views:
pydantic stays off the cold start of every other function; and what the routes answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictStr, StringConstraints

from chalicelib.api.staff_schemas import Answer, Cursor, DeviceType, DistrictCode, Instant
from chalicelib.domain import alerts

Text = Annotated[StrictStr, StringConstraints(max_length=2000)]
"""Bounded before any judgment (chalicelib.domain.alerts.text allows 500 once trimmed)."""


class AlertAcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text | None = None


class AlertAssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: Annotated[StrictStr, StringConstraints(max_length=200)] | None


class AlertCommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text


class AlertClearRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text


# -- Answers (DESIGN §4b "Alerts") -------------------------------------------------------


class AlertKind(RootModel[alerts.AlertKind]):
    """What an alert is about."""


class AlertSeverity(RootModel[alerts.Severity]):
    """Air: `major` at bad, `critical` at very bad."""


class AlertStatus(RootModel[Literal["active", "cleared"]]):
    pass


class TimelineEvent(RootModel[alerts.TimelineEvent]):
    pass


class TimelineEntry(Answer):
    at: Instant
    event: TimelineEvent
    by: str | None = Field(description="the staff member; null for the system")
    note: str | None


class AlertSummary(Answer):
    """An alert as the list shows it."""

    alert_id: str
    device_id: str
    device_type: DeviceType
    district: DistrictCode
    kind: AlertKind
    severity: AlertSeverity
    status: AlertStatus
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: Instant | None
    assignee: str | None
    raised_at: Instant
    cleared_at: Instant | None
    updated_at: Instant
    detail: str


class Alert(AlertSummary):
    """One alert with its timeline, oldest event first."""

    timeline: list[TimelineEntry]


class AlertPage(Answer):
    alerts: list[AlertSummary]
    next_cursor: Cursor
