"""Citizens: profiles, phone links and one-time deposit codes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib import config
from chalicelib.domain import recycling as rules
from chalicelib.domain.citizens import Citizen, DepositCodeGrant, PhoneTaken, ProfileChange
from chalicelib.domain.clock import Clock
from chalicelib.domain.districts import districts, is_district
from chalicelib.domain.ledger import LedgerPage
from chalicelib.errors import (
    Conflict,
    NotFound,
    RetryableConflict,
    TooManyRequests,
    Unprocessable,
)
from chalicelib.queues import DEPOSITS

CODE_ATTEMPTS = 10
PROFILE_ATTEMPTS = 5


@dataclass(frozen=True)
class ProfileUpdate:
    """What a citizen asks to change. `phone` is a normalized number, None to unlink, or
    absent (`phone_given` False) to keep the current link."""

    display_name: str
    district: str
    phone: str | None = None
    phone_given: bool = False


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime


class RateLimiter(Protocol):
    def acquire(self, key: str, limit: int, window_s: int, now: datetime) -> bool: ...


class CitizenStore(Protocol):
    def get(self, citizen_id: str) -> Citizen | None: ...
    def save_profile(self, citizen_id: str, change: ProfileChange, now: datetime) -> Citizen: ...
    def reserve_code(self, grant: DepositCodeGrant, now: datetime) -> bool: ...


class LedgerReader(Protocol):
    def page(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage: ...


class CitizenService:
    def __init__(
        self,
        store: CitizenStore,
        settings: config.Settings,
        clock: Clock,
        phone_key: Callable[[], bytes],
        rate_limiter: RateLimiter,
        ledger: LedgerReader,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._settings = settings
        self._clock = clock
        self._phone_key = phone_key
        self._rate_limiter = rate_limiter

    def register(self, citizen_id: str, request: ProfileUpdate) -> Citizen:
        """Create or update a profile; a phone number is linked by its keyed hash only.

        `phone` absent keeps the current link, `null` removes it, a number replaces it.
        """
        if not is_district(request.district):
            raise Unprocessable(
                f"unknown district {request.district!r}",
                code="unknown_district",
                details=[{"field": "district", "allowed": sorted(districts())}],
            )
        phone_hash: str | None = None
        if request.phone_given:
            phone_hash = rules.phone_hash(request.phone, self._phone_key()) if request.phone else ""
        change = ProfileChange(request.display_name, request.district, phone_hash)
        for attempt in range(PROFILE_ATTEMPTS):
            try:
                return self._store.save_profile(citizen_id, change, self._clock())
            except PhoneTaken as e:
                raise Conflict(
                    "this phone number belongs to another citizen", code="phone_taken"
                ) from e
            except RetryableConflict:
                # A deposit moved the balance meanwhile: re-read and apply again.
                time.sleep(0.01 * 2**attempt)
        raise Conflict("the profile is changing too often; try again", code="retry")

    def profile(self, citizen_id: str) -> Citizen:
        citizen = self._store.get(citizen_id)
        if citizen is None:
            raise NotFound("register first with PUT /v1/me", code="not_registered")
        return citizen

    def ledger(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        """The citizen's ledger, newest first; a cursor only ever reads its owner's."""
        return self._ledger.page(citizen_id, limit, cursor)

    def issue_deposit_code(self, citizen_id: str) -> IssuedCode:
        """A fresh 6-digit code, valid for the code TTL.

        A number stays reserved long after it expires: a robot may deliver a deposit made
        with it up to the late-delivery window later, and that deposit must still find
        the citizen who held the code, never a later holder.
        """
        holder = self.profile(citizen_id)
        now = self._clock()
        s = self._settings
        ttl = s.deposit_code_ttl_seconds
        if not self._rate_limiter.acquire(
            f"deposit-codes#{citizen_id}", s.deposit_codes_per_window, ttl, now
        ):
            raise TooManyRequests(
                f"at most {s.deposit_codes_per_window} codes per {ttl} seconds",
                code="too_many_codes",
            )
        expires_at = now + timedelta(seconds=ttl)
        reserved_until = (
            expires_at
            + timedelta(seconds=s.deposit_max_behind_seconds + s.deposit_max_ahead_seconds)
            + timedelta(hours=1)
            # a deposit is judged at its receipt, but may be processed as late as the
            # deposits' dead-letter queue keeps it (a backlog, then a redrive)
            + timedelta(seconds=DEPOSITS.dlq_retention_s)
        )
        for _ in range(CODE_ATTEMPTS):
            code = f"{secrets.randbelow(1_000_000):06d}"
            grant = DepositCodeGrant(
                code, citizen_id, now, expires_at, reserved_until, holder.account
            )
            if self._store.reserve_code(grant, now):
                return IssuedCode(code, expires_at)
        raise TooManyRequests("no free deposit code right now; try again", code="codes_exhausted")
