"""Citizens in the city's terms: a profile with its points, and one-time deposit codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from chalicelib.domain.ledger import Account

if TYPE_CHECKING:
    from chalicelib.domain.payout_accounts import StoredPayoutAccount
    from chalicelib.domain.recycling import CodeRecord

CITIZEN_STATUS: Final = "active"
"""What support sees as an account's status: active, or `CLOSED_STATUS` once the citizen
closed it (chalicelib.domain.closing; the field is where a blocked account would show)."""
CLOSED_STATUS: Final = "closed"


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
    name_version: int = 0
    """Moves only when the display name changes (chalicelib.domain.boards keeps the newest)."""
    closed_at: datetime | None = None
    """When the citizen closed the account (chalicelib.domain.closing): a tombstone since."""

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def account(self) -> Account:
        return Account(self.citizen_id, self.balance, self.version, self.phone_hash)


@dataclass(frozen=True)
class CitizenCard:
    """What support sees of a citizen: the profile and the payout account (shown masked)."""

    citizen: Citizen
    payout_account: StoredPayoutAccount | None


@dataclass(frozen=True)
class ProfileChange:
    display_name: str
    district: str


@dataclass(frozen=True)
class DepositCodeGrant:
    """A code handed to a citizen, kept until `reserved_until`: a robot may deliver a deposit
    made with it that much later, and it must find this citizen. Its number is busy only
    while the code can vouch for a deposit (code_slot_seconds): it is kept under `key`, the
    number and the slot of its issue, and may be issued only if the slot before holds no
    grant issued after `clear_before` (and the old layout's row under the bare number none
    still valid after `legacy_clear_before`)."""

    code: str
    citizen_id: str
    issued_at: datetime
    expires_at: datetime
    reserved_until: datetime
    account: Account | None = None
    """The holder's account when the code was issued: a deposit made with the code posts
    against it without reading the citizen again, unless it moved meanwhile."""
    key: str = ""
    previous_keys: tuple[str, ...] = ()
    """The slots before, which may hold no grant issued after `clear_before`."""
    clear_before: datetime | None = None
    legacy_clear_before: datetime | None = None
    next_keys: tuple[str, ...] = ()
    """The slots after, which may hold no grant issued before `clear_from`: one issued later
    in time may commit first (its request read the clock after this one's did)."""
    clear_from: datetime | None = None


# Deposit codes: who held a number when ---------------------------------------------------

CODE_SPACE = 1_000_000
"""6-digit codes (DESIGN §3: the robots' keypads and the device contract)."""
CODE_CLOCK_SKEW = timedelta(minutes=2)
"""A robot's clock may run behind the cloud's: a deposit stamped this long before its code
was issued is still the code holder's."""


CODE_CLOCK_AHEAD = timedelta(minutes=10)
"""A robot's clock may run this far ahead of IoT Core's (DESIGN §5: `occurred_at` at most 10
minutes ahead of receipt): a deposit made while a code was valid may carry a stamp up to
this long after the code expired. That stamp must not land in the next holder's life."""


def code_slot_seconds(ttl_s: int) -> int:
    """How far apart two grants of one number must be issued: a code vouches for deposits
    stamped from `issued_at - skew` to `expires_at`, and a robot whose clock runs ahead
    stamps a deposit made in that life up to CODE_CLOCK_AHEAD later. Grants this far apart
    never both claim a deposit: one stamped late by a fast clock finds no holder (an
    `expired_code`, as before codes were reused) instead of the next one."""
    return ttl_s + int((CODE_CLOCK_SKEW + CODE_CLOCK_AHEAD).total_seconds())


CODE_SLOT_SECONDS = 1020
"""The width of the time slots grants are keyed by: a constant (the default TTL plus the
skew and the clock lead), never derived from the configured TTL, so a grant is found under
the same key after DEPOSIT_CODE_TTL_SECONDS changes (a width that moved with it re-keyed
every grant, and each late deposit made with a code issued before the change was refused
for good)."""


def _slot(moment: datetime, width_s: int = CODE_SLOT_SECONDS) -> int:
    return int(moment.timestamp()) // width_s


def grant_key(code: str, slot: int) -> str:
    return f"code#{code}#{slot}"


def new_grant(
    code: str,
    citizen_id: str,
    now: datetime,
    ttl_s: int,
    reserved_until: datetime,
    account: Account | None = None,
) -> DepositCodeGrant:
    """A grant of `code` issued now, with where it is kept and what must be clear for it:
    no grant of the number issued less than a code's vouching time away (the same slot's
    key must be free, the slots before hold none issued after `clear_before`, the slots
    after none issued before `clear_from`)."""
    width = code_slot_seconds(ttl_s)
    slot = _slot(now)
    span = timedelta(seconds=width)
    return DepositCodeGrant(
        code,
        citizen_id,
        now,
        now + timedelta(seconds=ttl_s),
        reserved_until,
        account,
        key=grant_key(code, slot),
        previous_keys=tuple(grant_key(code, s) for s in range(_slot(now - span), slot)),
        clear_before=now - span,
        legacy_clear_before=now - CODE_CLOCK_SKEW - CODE_CLOCK_AHEAD,
        next_keys=tuple(grant_key(code, s) for s in range(slot + 1, _slot(now + span) + 1)),
        clear_from=now + span,
    )


def code_keys_at(code: str, occurred_at: datetime, ttl_s: int) -> tuple[str, ...]:
    """Where the grants that may cover a deposit made at `occurred_at` are kept: those issued
    in (occurred_at - ttl, occurred_at + skew], at most two slots at the default TTL (a TTL
    below the default still reads back as far: codes issued before it was lowered); then
    the number's row of the old layout (one key per number, kept a week: read until those
    rows have expired)."""
    back = max(ttl_s, CODE_SLOT_SECONDS - int((CODE_CLOCK_SKEW + CODE_CLOCK_AHEAD).total_seconds()))
    try:
        first = _slot(occurred_at - timedelta(seconds=back))
        last = _slot(occurred_at + CODE_CLOCK_SKEW)
    except OverflowError:
        # A time at an end of the calendar (a robot's `at=0001-01-01T00:00:00Z`): no grant
        # was issued then; the deposit is refused `occurred_at_out_of_range`, not a crash
        # that leaves the robot resending it for ever.
        return (code,)
    return (*(grant_key(code, slot) for slot in range(first, last + 1)), code)


def covers(record: CodeRecord, occurred_at: datetime) -> bool:
    return record.issued_at - CODE_CLOCK_SKEW <= occurred_at < record.expires_at


def code_at(records: Sequence[CodeRecord], occurred_at: datetime) -> CodeRecord | None:
    """The grant that vouches for a deposit made at `occurred_at`: the one whose life covers
    it (issuing keeps them disjoint). If none does, the latest one, which the caller judges
    expired; None when the number was never granted around then."""
    covering = [r for r in records if covers(r, occurred_at)]
    found = covering or list(records)
    return max(found, key=lambda r: r.issued_at) if found else None
