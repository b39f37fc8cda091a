"""Request bodies of the alert routes (chalicelib/api/alerts.py), imported inside the views:
pydantic stays off the cold start of every other function; and what the routes answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints

from chalicelib.api.common_schemas import (
    AlertKind,
    AlertSeverity,
    AlertStatus,
    Answer,
    Cursor,
    DeviceType,
    District,
    Instant,
    TimelineEvent,
)

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
    district: District
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
