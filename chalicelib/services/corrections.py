"""Corrections (DESIGN §4b): support proposes, a second person approves once into the
ledger or rejects. Each write carries its action-log entry in its own transaction.

Decisions repeat safely: the person who decided a correction asking again for the same
decision gets the correction back as it stands (200, nothing written again: a retry after a
lost answer); any other decision on a decided correction is a 409 `correction_decided`
naming its status. Two approvals racing post once: the loser's transaction fails on the
posting's guard and the correction's `pending` condition, and it answers as a repeat would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from chalicelib.domain import corrections as rules
from chalicelib.domain import names
from chalicelib.domain.citizens import Citizen
from chalicelib.domain.clock import Clock
from chalicelib.domain.corrections import Correction, CorrectionPage, Status
from chalicelib.domain.ledger import (
    AlreadyPosted,
    EffectRefused,
    InsufficientBalance,
    PostedResult,
    Posting,
)
from chalicelib.domain.staff_actions import Actor, StaffAction
from chalicelib.errors import Conflict, NotFound, RetryableConflict

ATTEMPTS = 5


class CorrectionStore(Protocol):
    def propose(self, correction: Correction, action: StaffAction) -> None:
        """Raises ProposalRepeated when the same proposal was made within the window."""

    def get(self, correction_id: str) -> Correction | None: ...
    def reject(self, correction: Correction, action: StaffAction) -> None:
        """Raises CorrectionDecided when it is no longer pending."""

    def page(self, status: Status, limit: int, cursor: str | None) -> CorrectionPage: ...


class Profiles(Protocol):
    def get(self, citizen_id: str) -> Citizen | None: ...


class Ledger(Protocol):
    def post(self, posting: Posting) -> PostedResult: ...


class CorrectionService:
    def __init__(
        self,
        store: CorrectionStore,
        profiles: Profiles,
        ledger: Ledger,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._profiles = profiles
        self._ledger = ledger
        self._clock = clock
        self._sleep = sleep

    def propose(
        self, citizen_id: str, points: int, reason: str, reference: str | None, by: Actor
    ) -> tuple[Correction, bool]:
        """The proposal, and whether it is new (False: the same proposal made within the
        repeat window, answered as it stands). One request when new: the citizen's
        existence is a condition of the write (404)."""
        correction = rules.propose(
            citizen_id, points, reason, reference, by.person_id, self._clock()
        )
        try:
            self._store.propose(correction, rules.propose_action(correction, by))
        except rules.ProposalRepeated as repeated:
            return self.correction(repeated.correction_id), False
        return correction, True

    def correction(self, correction_id: str) -> Correction:
        found = self._store.get(correction_id)
        if found is None:
            raise NotFound("no such correction", code="correction_not_found")
        return found

    def queue(self, status: Status, limit: int, cursor: str | None) -> CorrectionPage:
        return self._store.page(status, limit, cursor)

    def approve(self, correction_id: str, by: Actor) -> Correction:
        """Post the correction once. 409 `insufficient_balance` (it stays pending) when a
        debit would take the balance below zero."""
        for attempt in range(ATTEMPTS):
            correction = self._pending(correction_id, by, "approved")
            if correction.status != "pending":
                return correction
            citizen = self._profiles.get(correction.citizen_id)
            if citizen is None:
                raise NotFound("the citizen is no longer registered", code="citizen_not_found")
            if citizen.closed:
                raise Conflict(
                    "the citizen closed the account: nothing can be posted to it; it stays "
                    "pending until it is rejected",
                    code="account_closed",
                )
            try:
                posting = rules.approval(correction, citizen.account, by, self._clock())
            except InsufficientBalance as e:
                raise Conflict(
                    "this debit would take the citizen's balance below zero; it stays pending",
                    code="insufficient_balance",
                    details=[{"balance": citizen.balance, "points": correction.points}],
                ) from e
            try:
                self._ledger.post(posting)
            except (AlreadyPosted, EffectRefused):
                continue  # decided meanwhile: read it again and answer as a repeat
            except RetryableConflict:
                self._sleep(0.01 * 2**attempt)  # the balance moved: read it again
                continue
            return rules.approved(correction, posting)
        raise RetryableConflict(f"approve {correction_id}")

    def reject(self, correction_id: str, note: str, by: Actor) -> Correction:
        written = names.judged_text(note, rules.NOTE)
        for _ in range(ATTEMPTS):
            correction = self._pending(correction_id, by, "rejected")
            if correction.status != "pending":
                return correction
            at = self._clock()
            decided = rules.rejected(correction, by.person_id, written, at)
            action = rules.decision_action(correction, by, "reject", at, written)
            try:
                self._store.reject(decided, action)
            except rules.CorrectionDecided:
                continue
            return decided
        raise RetryableConflict(f"reject {correction_id}")

    def _pending(self, correction_id: str, by: Actor, wanted: Status) -> Correction:
        """The correction, if `by` may decide it and it is pending, or already decided
        `wanted` by `by` (a repeat); else 403 or 409."""
        correction = self.correction(correction_id)
        rules.check_decider(correction, by.person_id)
        if correction.status == "pending":
            return correction
        if correction.status == wanted and correction.decided_by == by.person_id:
            return correction
        raise Conflict(
            f"this correction is already {correction.status}",
            code="correction_decided",
            details=[{"status": correction.status, "decided_by": correction.decided_by}],
        )
