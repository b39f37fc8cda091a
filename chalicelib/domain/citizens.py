"""Citizens in the city's terms: a profile with its points, and one-time deposit codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.ledger import Account


@dataclass(frozen=True)
class Citizen:
    citizen_id: str
    display_name: str
    district: str
    balance: int
    lifetime_earned: int
    lifetime_paid: int
    phone_hash: str | None
    """The keyed hash of the linked phone number; the number itself is never kept."""
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def account(self) -> Account:
        return Account(self.citizen_id, self.balance, self.version, self.phone_hash)


@dataclass(frozen=True)
class ProfileChange:
    display_name: str
    district: str


@dataclass(frozen=True)
class DepositCodeGrant:
    """A code handed to a citizen. Its number stays reserved until `reserved_until`: a robot
    may deliver a deposit made with it that much later, and it must find this citizen."""

    code: str
    citizen_id: str
    issued_at: datetime
    expires_at: datetime
    reserved_until: datetime
    account: Account | None = None
    """The holder's account when the code was issued: a deposit made with the code posts
    against it without reading the citizen again, unless it moved meanwhile."""
