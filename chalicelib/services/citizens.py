"""Citizens: profiles, phone links and one-time deposit codes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from chalicelib import config
from chalicelib.adapters.dynamodb_citizens import PhoneTaken, ProfileChange
from chalicelib.adapters.dynamodb_models import Citizen, DepositCode
from chalicelib.domain import recycling as rules
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.districts import districts, is_district
from chalicelib.errors import (
    Conflict,
    NotFound,
    RetryableConflict,
    TooManyRequests,
    Unprocessable,
)

CODE_ATTEMPTS = 10
PROFILE_ATTEMPTS = 5


class ProfileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)
    ]
    district: str
    phone: str | None = None

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return None if value is None else rules.normalize_mobile(value)


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime


class RateLimiter(Protocol):
    def acquire(self, key: str, limit: int, window_s: int, now: datetime) -> bool: ...


class CitizenStore(Protocol):
    def get(self, citizen_id: str) -> Citizen | None: ...
    def save_profile(self, citizen_id: str, change: ProfileChange, now: datetime) -> Citizen: ...
    def reserve_code(self, item: DepositCode, now: datetime) -> bool: ...


class CitizenService:
    def __init__(
        self,
        store: CitizenStore,
        settings: config.Settings,
        clock: Clock,
        phone_key: Callable[[], bytes],
        rate_limiter: RateLimiter,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._phone_key = phone_key
        self._rate_limiter = rate_limiter

    def register(self, citizen_id: str, request: ProfileRequest) -> Citizen:
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
        if "phone" in request.model_fields_set:
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

    def issue_deposit_code(self, citizen_id: str) -> IssuedCode:
        """A fresh 6-digit code, valid for the code TTL.

        A number stays reserved long after it expires: a robot may deliver a deposit made
        with it up to the late-delivery window later, and that deposit must still find
        the citizen who held the code, never a later holder.
        """
        self.profile(citizen_id)
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
        )
        for _ in range(CODE_ATTEMPTS):
            code = f"{secrets.randbelow(1_000_000):06d}"
            item = DepositCode(
                code,
                citizen_id=citizen_id,
                issued_at=now,
                expires_at=expires_at,
                used_by=None,
                expires=reserved_until,
            )
            if self._store.reserve_code(item, now):
                return IssuedCode(code, expires_at)
        raise TooManyRequests("no free deposit code right now; try again", code="codes_exhausted")


def profile_view(citizen: Citizen, today_steps: int = 0, week_steps: int = 0) -> dict[str, Any]:
    return {
        "citizen_id": citizen.citizen_id,
        "display_name": citizen.display_name,
        "district": citizen.district,
        "district_name": districts()[citizen.district].name
        if citizen.district in districts()
        else None,
        "balance": int(citizen.balance),
        "lifetime_earned": int(citizen.lifetime_earned),
        "lifetime_paid": int(citizen.lifetime_paid),
        "phone_linked": citizen.phone_hash is not None,
        "today_steps": today_steps,
        "week_steps": week_steps,
        "created_at": iso(citizen.created_at),
        "updated_at": iso(citizen.updated_at),
    }
