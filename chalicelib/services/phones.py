"""Proven phone numbers (DESIGN §4): a code by SMS, its check, and the link it earns.

A robot credits whoever holds a number, so the number is linked only to the one who read the
code sent to it; the last prover wins, and the former holder is told. Nothing here tells
whether a number is held: a send is answered alike and limited alike for any number.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from chalicelib.domain import phone_proofs as proofs
from chalicelib.domain.citizens import Citizen
from chalicelib.domain.clock import Clock
from chalicelib.domain.phones import phone_hash
from chalicelib.errors import Conflict, NotFound, RetryableConflict, TooManyRequests, Unprocessable

LINK_ATTEMPTS = 5


class PhoneStore(Protocol):
    def open(self, verification: proofs.Verification) -> None: ...
    def replayed(self, verification_id: str, citizen_id: str) -> proofs.Verification | None: ...
    def spend_try(
        self, verification_id: str, citizen_id: str, now: datetime
    ) -> proofs.Verification: ...
    def link(
        self, verification: proofs.Verification, now: datetime, notice: proofs.Notice | None
    ) -> Citizen: ...
    def unlink(self, citizen_id: str, now: datetime) -> Citizen: ...


class Profiles(Protocol):
    def get(self, citizen_id: str) -> Citizen | None: ...


class SmsSender(Protocol):
    def send(self, e164_number: str, text: str) -> None: ...


class RateLimiter(Protocol):
    def acquire(self, key: str, limit: int, window_s: int, now: datetime) -> bool: ...


def _expired() -> Conflict:
    return Conflict(
        "this verification is used, expired or out of tries; ask for a new code",
        code="verification_expired",
    )


class PhoneService:
    def __init__(
        self,
        store: PhoneStore,
        profiles: Profiles,
        sms: SmsSender,
        limiter: RateLimiter,
        rules: proofs.ProofRules,
        clock: Clock,
        phone_key: Callable[[], bytes],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._profiles = profiles
        self._sms = sms
        self._limiter = limiter
        self._rules = rules
        self._clock = clock
        self._phone_key = phone_key
        self._sleep = sleep

    def send_code(self, citizen_id: str, number: str) -> proofs.Verification:
        """Open a verification for a normalized number and text its code to it. Answered
        alike whether or not anyone holds the number."""
        self._registered(citizen_id)
        now = self._clock()
        key = self._phone_key()
        number_hash = phone_hash(number, key)
        for limit in self._rules.send_limits(citizen_id, number_hash):
            if not self._limiter.acquire(limit.key, limit.uses, limit.window_s, now):
                raise TooManyRequests(
                    "too many codes asked for; wait and try again",
                    code="too_many_codes",
                    details=[{"retry_after_window_seconds": limit.window_s}],
                )
        code = proofs.new_code()
        verification = proofs.open_verification(
            citizen_id, number_hash, code, key, now, self._rules
        )
        self._store.open(verification)
        self._sms.send(proofs.e164(number), proofs.sms_text(code, self._rules.code_ttl_seconds))
        return verification

    def verify(self, citizen_id: str, verification_id: str, code: str) -> Citizen:
        """Check a code (one try, whatever the answer) and link the number on a match."""
        now = self._clock()
        limit = self._rules.attempt_limit(citizen_id)
        if not self._limiter.acquire(limit.key, limit.uses, limit.window_s, now):
            raise TooManyRequests(
                "too many codes tried; wait and try again",
                code="too_many_attempts",
                details=[{"retry_after_window_seconds": limit.window_s}],
            )
        try:
            verification = self._store.spend_try(verification_id, citizen_id, now)
        except proofs.VerificationSpent as e:
            return self._replay(citizen_id, verification_id, code, e)
        if not proofs.code_matches(self._phone_key(), verification, code):
            raise Unprocessable(
                "the code does not match",
                code="wrong_code",
                details=[{"tries_left": verification.tries_left}],
            )
        for attempt in range(LINK_ATTEMPTS):
            now = self._clock()
            # For whoever held the number, if anyone else did (the store knows).
            notice = proofs.number_moved_notice(verification_id, now)
            try:
                return self._store.link(verification, now, notice)
            except proofs.VerificationSpent as e:
                raise _expired() from e
            except RetryableConflict:
                # A deposit or a profile change moved a row meanwhile: read again.
                self._sleep(random.uniform(0, 0.01 * 2**attempt))
        raise RetryableConflict(f"phone link {verification_id}: gave up")

    def _replay(
        self, citizen_id: str, verification_id: str, code: str, spent: Exception
    ) -> Citizen:
        """A verify repeated after it succeeded (an app retrying a lost answer) answers the
        same link again; anything else about a spent verification is a 409."""
        done = self._store.replayed(verification_id, citizen_id)
        if done is not None and proofs.code_matches(self._phone_key(), done, code):
            return self._registered(citizen_id)
        raise _expired() from spent

    def unlink(self, citizen_id: str) -> Citizen:
        for attempt in range(LINK_ATTEMPTS):
            try:
                return self._store.unlink(citizen_id, self._clock())
            except RetryableConflict:
                self._sleep(random.uniform(0, 0.01 * 2**attempt))
        raise RetryableConflict(f"phone unlink {citizen_id}: gave up")

    def _registered(self, citizen_id: str) -> Citizen:
        citizen = self._profiles.get(citizen_id)
        if citizen is None:
            raise NotFound("register first with PUT /v1/me", code="not_registered")
        return citizen
