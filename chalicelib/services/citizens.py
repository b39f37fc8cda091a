"""Citizens: profiles, phone links and one-time deposit codes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from chalicelib import config
from chalicelib.domain.citizens import (
    CODE_SPACE,
    Citizen,
    DepositCodeGrant,
    ProfileChange,
    new_grant,
)
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.closing import account_closed
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

CODE_ATTEMPTS = 16
"""Draws before a code request gives up (429 `codes_exhausted`). With a share f of the
numbers busy a request fails with probability f**16: 1 % at f = 0.75."""
PROFILE_ATTEMPTS = 5


@dataclass(frozen=True)
class ProfileUpdate:
    """What a citizen asks to change. `phone_given`: the request named a phone number, which
    only a proof by SMS code may link (chalicelib.services.phones)."""

    display_name: str
    district: str
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


class BoardNames(Protocol):
    def show_name(
        self, citizen_id: str, display_name: str, version: int, districts: list[str], today: date
    ) -> int: ...


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
        board_names: BoardNames | None = None,
        *,
        code_space: int = CODE_SPACE,
        draw: Callable[[int], int] | None = None,
    ) -> None:
        self._code_space = code_space
        self._draw = draw
        self._store = store
        self._board_names = board_names
        self._ledger = ledger
        self._settings = settings
        self._clock = clock
        self._phone_key = phone_key
        self._rate_limiter = rate_limiter

    def register(self, citizen_id: str, request: ProfileUpdate) -> Citizen:
        """Create or update a profile. A phone number is never linked here: anyone could name
        a stranger's number and collect their deposits (POST /v1/me/phone proves it)."""
        if request.phone_given:
            raise Unprocessable(
                "a phone number is linked only once proven: POST /v1/me/phone sends a code",
                code="phone_needs_verification",
                details=[{"field": "phone"}],
            )
        if not is_district(request.district):
            raise Unprocessable(
                f"unknown district {request.district!r}",
                code="unknown_district",
                details=[{"field": "district", "allowed": sorted(districts())}],
            )
        change = ProfileChange(request.display_name, request.district)
        for attempt in range(PROFILE_ATTEMPTS):
            try:
                saved = self._store.save_profile(citizen_id, change, self._clock())
            except RetryableConflict:
                # A deposit moved the balance meanwhile: re-read and apply again.
                time.sleep(0.01 * 2**attempt)
                continue
            if self._board_names is not None:
                # The boards show the new name now, not after the next sync.
                self._board_names.show_name(
                    citizen_id,
                    saved.display_name,
                    saved.name_version,
                    [saved.district],
                    seoul_day(self._clock()),
                )
            return saved
        raise Conflict("the profile is changing too often; try again", code="retry")

    def profile(self, citizen_id: str) -> Citizen:
        citizen = self._store.get(citizen_id)
        if citizen is None:
            raise NotFound("register first with PUT /v1/me", code="not_registered")
        if citizen.closed:
            raise account_closed()
        return citizen

    def ledger(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        """The citizen's ledger, newest first; a cursor only ever reads its owner's."""
        return self._ledger.page(citizen_id, limit, cursor)

    def issue_deposit_code(self, citizen_id: str) -> IssuedCode:
        """A fresh 6-digit code, valid for the code TTL.

        The grant is kept long after it expires: a robot may deliver a deposit made with it
        up to the late-delivery window later, and that deposit must still find the citizen
        who held the code then, never a later holder. But its number is busy only while it
        can vouch for a deposit (domain.citizens.code_slot_seconds, 17 minutes): a later
        grant of the number covers a later time, and a deposit is judged at its
        `occurred_at`. So 1 % of requests fail only once ~44,000 accounts draw codes at
        the maximum rate at once (docs/recycling.md).
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
            code = f"{(self._draw or secrets.randbelow)(self._code_space):06d}"
            grant = new_grant(code, citizen_id, now, ttl, reserved_until, holder.account)
            if self._store.reserve_code(grant, now):
                return IssuedCode(code, expires_at)
        raise TooManyRequests("no free deposit code right now; try again", code="codes_exhausted")
