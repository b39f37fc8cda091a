"""Request bodies of the alert routes (chalicelib/api/alerts.py), imported inside the views:
pydantic stays off the cold start of every other function."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints

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
