"""Request bodies of the payout routes (pydantic, imported only by the routes that parse
them). Shapes are checked here (400); the values are judged by the domain
(chalicelib.domain.payout_accounts, chalicelib.domain.payout_runs), which names each bad
field (422)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints

from chalicelib.api.common_schemas import (
    Answer,
    Chunks,
    Cursor,
    ExportFormat,
    Instant,
    Month,
    RunStatus,
    SkipReason,
)

_Id = Annotated[StrictStr, StringConstraints(min_length=1, max_length=128)]


class PayoutAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bank: Annotated[StrictStr, StringConstraints(max_length=200)]
    account_number: Annotated[StrictStr, StringConstraints(max_length=200)]
    holder: Annotated[StrictStr, StringConstraints(max_length=400)]


class PayoutRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: Annotated[
        StrictStr,
        StringConstraints(max_length=32),
        # Documented, not enforced here: the domain names a bad period (422 invalid_period).
        Field(json_schema_extra={"pattern": "^[0-9]{4}-[0-9]{2}$"}),
    ]


class SettleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paid: Annotated[list[_Id], Field(max_length=1000)] = []
    failed: Annotated[list[_Id], Field(max_length=1000)] = []


# -- Answers (DESIGN §4 "Payout runs", §4b "Payouts") ------------------------------------


class PayoutRunStarted(Answer):
    run_id: str
    period: Month
    status: RunStatus


class SkippedCounts(Answer):
    no_account: int
    below_threshold: int


class Settlement(Answer):
    """The run's items by state, and the points paid and failed (credited back)."""

    paid: int
    failed: int
    pending: int
    paid_points: int
    failed_points: int


class ExportRecord(Answer):
    sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


class PayoutRun(Answer):
    run_id: str
    period: Month
    status: RunStatus
    citizens: int
    total_points: int
    skipped: SkippedCounts
    chunks: Chunks
    settlement: Settlement
    started_at: Instant
    started_by: str
    ready_at: Instant | None
    approved_at: Instant | None
    approved_by: str | None
    exports: Annotated[
        dict[ExportFormat, ExportRecord],
        Field(description="the SHA-256 of the last file served in each format"),
    ]
    settled_at: Instant | None


class PayoutRunPage(Answer):
    runs: list[PayoutRun]
    next_cursor: Cursor


class SkippedCitizen(Answer):
    citizen_id: str
    reason: SkipReason


class SkippedPage(Answer):
    run_id: str
    skipped: list[SkippedCitizen]
    next_cursor: Cursor


class Applied(Answer):
    paid: int
    failed: int


class SettledRun(PayoutRun):
    """The run after a settle call: what this call changed (`applied`) and how many of the
    named citizens were already so (`unchanged`)."""

    applied: Applied
    unchanged: int
