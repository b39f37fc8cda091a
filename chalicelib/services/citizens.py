"""Citizens: profiles, phone links and one-time deposit codes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import config
from chalicelib.adapters.dynamodb_models import Citizen, DepositCode, PhoneLink
from chalicelib.domain import recycling as rules
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.districts import districts, is_district
from chalicelib.errors import Conflict, NotFound, TooManyRequests, Unprocessable

CODE_ATTEMPTS = 10


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


class CitizenService:
    def __init__(
        self,
        settings: config.Settings,
        clock: Clock,
        phone_key: Callable[[], bytes],
        rate_limiter: RateLimiter,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._phone_key = phone_key
        self._rate_limiter = rate_limiter

    def register(self, citizen_id: str, request: ProfileRequest) -> Citizen:
        """Create or update a profile. A phone number, if given, is linked by its keyed hash."""
        if not is_district(request.district):
            raise Unprocessable(
                f"unknown district {request.district!r}",
                code="unknown_district",
                details=[{"field": "district", "allowed": sorted(districts())}],
            )
        now = self._clock()
        if request.phone is not None:
            self._link_phone(citizen_id, rules.phone_hash(request.phone, self._phone_key()), now)
        try:
            citizen = Citizen.get(citizen_id, consistent_read=True)
        except DoesNotExist:
            citizen = Citizen(citizen_id, balance=0, lifetime_earned=0, lifetime_paid=0)
            citizen.created_at = now
        actions: list[Action] = [
            Citizen.display_name.set(request.display_name),
            Citizen.district.set(request.district),
            Citizen.updated_at.set(now),
        ]
        if citizen.version is None:
            actions += [
                Citizen.created_at.set(now),
                Citizen.balance.set(0),
                Citizen.lifetime_earned.set(0),
                Citizen.lifetime_paid.set(0),
            ]
        try:
            # Versioned: a concurrent deposit moving the balance makes us retry, never clobber.
            citizen.update(actions=actions)
        except UpdateError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("the profile changed meanwhile; try again", code="retry") from e
            raise
        return citizen

    def _link_phone(self, citizen_id: str, phone_hash: str, now: datetime) -> None:
        try:
            PhoneLink(phone_hash, citizen_id=citizen_id, linked_at=now).save(
                condition=PhoneLink.phone_hash.does_not_exist()
                | (PhoneLink.citizen_id == citizen_id)
            )
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(
                    "this phone number belongs to another citizen", code="phone_taken"
                ) from e
            raise

    def profile(self, citizen_id: str) -> Citizen:
        try:
            return Citizen.get(citizen_id)
        except DoesNotExist as e:
            raise NotFound("register first with PUT /v1/me", code="not_registered") from e

    def issue_deposit_code(self, citizen_id: str) -> IssuedCode:
        """A fresh 6-digit code; a taken code is only reused once it has expired."""
        self.profile(citizen_id)
        now = self._clock()
        ttl = self._settings.deposit_code_ttl_seconds
        if not self._rate_limiter.acquire(
            f"deposit-codes#{citizen_id}", self._settings.deposit_codes_per_window, ttl, now
        ):
            raise TooManyRequests(
                f"at most {self._settings.deposit_codes_per_window} codes per {ttl // 60} minutes",
                code="too_many_codes",
            )
        expires_at = now + timedelta(seconds=ttl)
        for _ in range(CODE_ATTEMPTS):
            code = f"{secrets.randbelow(1_000_000):06d}"
            item = DepositCode(
                code,
                citizen_id=citizen_id,
                expires_at=expires_at,
                used_by=None,
                # Kept a day past expiry so a late-resending robot still gets a clear answer.
                expires=expires_at + timedelta(days=1),
            )
            try:
                item.save(condition=DepositCode.code.does_not_exist() | (DepositCode.expires < now))
                return IssuedCode(code, expires_at)
            except PutError as e:
                if e.cause_response_code != "ConditionalCheckFailedException":
                    raise
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
        "today_steps": today_steps,
        "week_steps": week_steps,
        "created_at": iso(citizen.created_at),
        "updated_at": iso(citizen.updated_at),
    }
