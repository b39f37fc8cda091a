"""The pydantic shapes of citizen support's request bodies (types only: a wrong type, such as
points given as `"5"`, `5.0` or `true`, is a 400; the rules are chalicelib.domain.corrections',
a 422 naming the field); and what the support routes answer (DESIGN §4b "Citizens")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictInt, StrictStr

from chalicelib.api.staff_schemas import Answer, Cursor, DistrictCode, Instant
from chalicelib.domain import corrections, ledger


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: StrictInt
    reason: StrictStr
    reference: StrictStr | None = None


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: StrictStr


# -- Answers -----------------------------------------------------------------------------


class MaskedPayoutAccount(Answer):
    """A payout account as shown back: the number masked (its last 4 digits only)."""

    bank_code: Annotated[str, Field(pattern="^[0-9]{3}$")]
    bank_name: str
    account_number: str
    holder: str


class CitizenCard(Answer):
    """A citizen as support sees them; the phone number itself is never shown."""

    citizen_id: str
    display_name: str
    district: DistrictCode
    balance: int
    lifetime_earned: int
    lifetime_paid: int
    phone_linked: bool
    payout_account: MaskedPayoutAccount | None
    created_at: Instant
    status: Literal["active"]


class CitizenMatches(Answer):
    """The one citizen an exact look-up names, or none."""

    citizens: Annotated[list[CitizenCard], Field(max_length=1)]


class LedgerKind(RootModel[ledger.LedgerKind]):
    pass


class CorrectionStatus(RootModel[corrections.Status]):
    pass


class LedgerEntry(Answer):
    entry_id: str
    kind: LedgerKind
    points: int
    balance_after: int
    created_at: Instant
    detail: dict[str, Any]


class CitizenLedger(Answer):
    """A page of a citizen's ledger, newest first (the shape of `GET /v1/me/ledger`)."""

    entries: list[LedgerEntry]
    next_cursor: Cursor


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
