"""The answers of the citizen's own routes (`/v1/me...`, `PUT /v1/me/payout-account`) and
of `GET /v1/banks` (DESIGN §4), as pydantic models for the OpenAPI document (`http.answers`).

`Account`, `MaskedPayoutAccount` and `LedgerPage` are also what support sees of a citizen
(`/v1/admin/citizens`): support_schemas.py builds on them, nothing is defined twice."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.common_schemas import (
    Answer,
    Cursor,
    District,
    Instant,
    LedgerKind,
    SkipReason,
)


class MaskedPayoutAccount(Answer):
    """Where a citizen is paid, as it is ever shown back: the number masked."""

    bank_code: str = Field(
        pattern=r"^[0-9]{3}$", description="the bank's 3-digit code (`GET /v1/banks`)"
    )
    bank_name: str = Field(description="the bank's Korean name")
    account_number: str = Field(description="masked: `******` and the last 4 digits")
    holder: str


class PayoutAccountAnswer(Answer):
    payout_account: MaskedPayoutAccount


class Account(Answer):
    """A citizen's account: the profile and points (support sees the same)."""

    citizen_id: str
    display_name: str = Field(description="shown on the leaderboards")
    district: District
    balance: int = Field(description="points held now")
    lifetime_earned: int
    lifetime_paid: int
    phone_linked: bool = Field(description="a proven phone number is linked (never shown)")
    payout_account: MaskedPayoutAccount | None
    created_at: Instant


class Profile(Account):
    """`GET /v1/me`: the account, the district's name and this Seoul day's and week's steps."""

    district_name: str | None = Field(description="the district's Korean name")
    today_steps: int
    week_steps: int
    updated_at: dt.datetime


class StepDay(Answer):
    date: dt.date
    steps: int = Field(ge=0)


class StoredSteps(Answer):
    """The stored count of each day sent (a day's count never goes down)."""

    days: list[StepDay]


class DepositCode(Answer):
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="typed at a robot, once")]
    expires_at: dt.datetime


class PhoneVerification(Answer):
    verification_id: str = Field(description="name it in `POST /v1/me/phone/verify`")
    expires_at: dt.datetime


class LedgerEntry(Answer):
    entry_id: str
    kind: LedgerKind
    points: int = Field(description="signed: positive credits, negative debits")
    balance_after: int
    created_at: dt.datetime
    detail: dict[str, Any] = Field(description="what the entry is for, by kind")


class LedgerPage(Answer):
    """Ledger entries, newest first; `next_cursor` asks for the next page (null: no more)."""

    entries: list[LedgerEntry]
    next_cursor: Cursor


class Bank(Answer):
    code: Annotated[str, Field(pattern=r"^[0-9]{3}$", description="the 3-digit bank code")]
    name_ko: str
    name_en: str
    aliases: list[str] = Field(description="other names a payout account may give the bank")


class BankList(Answer):
    """The banks a payout account may name, by code or by any of their names."""

    banks: list[Bank]


# -- My payouts and closing my account (DESIGN §4c) --------------------------------------


class MyPayout(Answer):
    """A run that paid me: its debit is on my ledger."""

    run_id: str
    period: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")]
    points: int = Field(ge=1, description="debited from my balance for the transfer")
    status: Literal["pending", "paid", "failed"]
    updated_at: dt.datetime = Field(description="settled, or debited while pending")
    credited_back: bool = Field(
        description="a failed transfer's points came back to my balance (a `payout_reversal`"
        " ledger entry)"
    )


class MySkip(Answer):
    """A run that skipped me, and why."""

    run_id: str
    period: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")]
    reason: SkipReason
    at: dt.datetime


class MyPayouts(Answer):
    """Every run that paid me (`payouts`) or skipped me (`skipped`), newest first."""

    payouts: list[MyPayout]
    skipped: list[MySkip]


class ClosedAccount(Answer):
    """`DELETE /v1/me`: the account is closed; its tokens now get 404 `account_closed`."""

    citizen_id: str
    closed_at: dt.datetime
    points_forfeited: int = Field(ge=0, description="given up by a `forfeit` ledger entry")
