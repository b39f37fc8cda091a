"""Request bodies of the operators' actions on refused and parked messages (imported by
the routes that parse them: only they pay for pydantic), and what the quarantine and
dead-letter routes answer (DESIGN §4b "Quarantine and dead letters")."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from chalicelib.api.common_schemas import (
    Answer,
    Cursor,
    Instant,
    ParkedQueueKind,
    QuarantineSource,
    QuarantineStatus,
    ReplayResult,
)
from chalicelib.domain.operations import MAX_NOTE, MAX_REDRIVE


class DiscardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[StrictStr, Field(min_length=1, max_length=MAX_NOTE)]

    @field_validator("note")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a note says why: it cannot be blank")
        if any(unicodedata.category(ch)[0] == "C" and ch != "\n" for ch in value):
            raise ValueError("a note has no control or format characters")
        return value


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max: Annotated[StrictInt, Field(ge=1, le=MAX_REDRIVE)] | None = None


# -- Answers -----------------------------------------------------------------------------


class Outcome(Answer):
    """What sending the message through its handler again did. On a closed entry only the
    figures it had are kept."""

    result: ReplayResult
    reason: str | None = None
    points: int | None = None
    details: str | None = None


class QuarantineEntry(Answer):
    """A quarantined message, redacted (the message as it arrived is never shown)."""

    entry_id: Annotated[str, Field(description="`<source>:<quarantine id>`")]
    quarantine_id: str
    source: QuarantineSource
    status: QuarantineStatus
    reason: str
    device_id: str | None
    event_id: str | None
    details: str | None
    payload: str | None
    received_at: Instant
    reprocessable: bool
    closed_at: Instant | None
    closed_by: str | None
    note: str | None
    outcome: Outcome | None


class ReprocessedEntry(QuarantineEntry):
    """The entry after its message went through its handler again, with what it did."""

    outcome: Outcome


class QuarantinePage(Answer):
    items: list[QuarantineEntry]
    next_cursor: Cursor


class ParkedQueue(Answer):
    queue: str
    kind: ParkedQueueKind
    source: Annotated[str, Field(description="the queue or stream handler whose failures it holds")]
    messages: int
    in_flight: int


class DeadLetters(Answer):
    queues: list[ParkedQueue]


class Redriven(Answer):
    queue: str
    moved: Annotated[int, Field(ge=0)]
