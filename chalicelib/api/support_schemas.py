"""The pydantic shapes of citizen support's request bodies (types only: a wrong type, such as
points given as `"5"`, `5.0` or `true`, is a 400; the rules are chalicelib.domain.corrections',
a 422 naming the field); and what the support routes answer (DESIGN §4b "Citizens")."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from chalicelib.api.common_schemas import Answer, CitizenStatus, CorrectionStatus, Cursor, Instant
from chalicelib.api.me_schemas import Account


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: StrictInt
    reason: StrictStr
    reference: StrictStr | None = None


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: StrictStr


# -- Answers (a citizen's ledger page is the citizen's own: me_schemas.LedgerPage) -------


class CitizenCard(Account):
    """A citizen as support sees them: the account the citizen sees, and its status (the
    phone number itself is never shown)."""

    status: CitizenStatus


class CitizenMatches(Answer):
    """The one citizen an exact look-up names, or none."""

    citizens: Annotated[list[CitizenCard], Field(max_length=1)]


class Correction(Answer):
    correction_id: str
    citizen_id: str
    points: int
    reason: str
    reference: str | None
    status: CorrectionStatus
    proposed_by: str
    proposed_at: Instant
    decided_by: str | None
    decided_at: Instant | None
    note: str | None
    entry_id: Annotated[str | None, Field(description="its ledger entry, once approved")]
    balance_after: int | None


class CorrectionPage(Answer):
    corrections: list[Correction]
    next_cursor: Cursor
