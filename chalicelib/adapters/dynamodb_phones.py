"""DynamoDB adapter for proven phone numbers: verifications, and the link's move to the
citizen who proved the number (DESIGN §4).

The move is one TransactWriteItems conditioned on everything it was decided on: the
verification still pending and unexpired, the number's link as read, the former holder's and
the prover's rows at the versions read. Bumping the former holder's version is what stops
their deposit codes' snapshots (which name the number) from posting against the link again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb_citizens import citizen_of
from chalicelib.adapters.dynamodb_models import Citizen, Notification, PhoneLink, PhoneVerification
from chalicelib.adapters.dynamodb_notifications import counter_update, notification_item
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain import citizens
from chalicelib.domain.closing import account_closed
from chalicelib.domain.phone_proofs import Notice, Verification, VerificationSpent
from chalicelib.errors import NotFound, RetryableConflict

# A spent or expired verification is kept a day (for support questions), then TTL'd away.
_KEPT = timedelta(days=1)
PENDING, SPENT = "pending", "spent"


class DynamoDbPhones:
    def open(self, verification: Verification) -> None:
        v = verification
        item = PhoneVerification(
            v.verification_id,
            citizen_id=v.citizen_id,
            phone_hash=v.phone_hash,
            code_hash=v.code_hash,
            created_at=v.created_at,
            expires_at=v.expires_at,
            tries_left=v.tries_left,
            status=PENDING,
            expires=v.expires_at + _KEPT,
        )
        try:
            item.save(condition=PhoneVerification.verification_id.does_not_exist())
        except PutError as e:
            if condition_failed(e):
                raise RetryableConflict("verification id in use") from e
            raise

    def spend_try(self, verification_id: str, citizen_id: str, now: datetime) -> Verification:
        """Take one try, by a conditional write: no race can take a 6th. Raises
        VerificationSpent when the verification is unknown, another citizen's, expired,
        used or out of tries (all alike to the caller)."""
        item = PhoneVerification(verification_id)
        try:
            item.update(
                actions=[PhoneVerification.tries_left.add(-1)],
                condition=PhoneVerification.verification_id.exists()
                & (PhoneVerification.citizen_id == citizen_id)
                & (PhoneVerification.status == PENDING)
                & (PhoneVerification.expires_at > now)
                & (PhoneVerification.tries_left > 0),
            )
        except UpdateError as e:
            if condition_failed(e):
                raise VerificationSpent(verification_id) from e
            raise
        return _verification_of(item)

    def replayed(self, verification_id: str, citizen_id: str) -> Verification | None:
        """The verification, when it is this citizen's, spent, and its number is still linked
        to them by it: a repeat of a verify that succeeded (its answer lost, say)."""
        try:
            item = PhoneVerification.get(verification_id, consistent_read=True)
        except DoesNotExist:
            return None
        if item.status != SPENT or item.citizen_id != citizen_id:
            return None
        link = _get(PhoneLink, item.phone_hash)
        if link is None or link.citizen_id != citizen_id:
            return None
        if link.verification_id != verification_id:
            return None
        return _verification_of(item)

    def link(
        self, verification: Verification, now: datetime, notice: Notice | None
    ) -> citizens.Citizen:
        """Link the verified number to its prover, moving it from whoever held it; the
        former holder gets `notice` in their inbox. Raises VerificationSpent,
        RetryableConflict (something read moved: read again), NotFound (no profile)."""
        v = verification
        prover = _get(Citizen, v.citizen_id)
        if prover is None:
            raise NotFound("register first with PUT /v1/me", code="not_registered")
        if prover.closed_at is not None:  # a proof that raced the close links nothing
            raise account_closed()
        link = _get(PhoneLink, v.phone_hash)
        holder_id = link.citizen_id if link is not None else None
        tx = NamedTransaction()
        tx.update(
            "verification",
            PhoneVerification(v.verification_id),
            [PhoneVerification.status.set(SPENT)],
            (PhoneVerification.status == PENDING)
            & (PhoneVerification.expires_at > now)
            & (PhoneVerification.citizen_id == v.citizen_id),
            versioned=False,
        )
        tx.put(
            "link",
            PhoneLink(
                v.phone_hash,
                citizen_id=v.citizen_id,
                linked_at=now,
                proven_at=now,
                verification_id=v.verification_id,
                account_version=int(prover.version) + 1,
                account_balance=int(prover.balance),
            ),
            PhoneLink.phone_hash.does_not_exist()
            if holder_id is None
            else PhoneLink.citizen_id == holder_id,
        )
        if holder_id is not None and holder_id != v.citizen_id:
            holder = _get(Citizen, holder_id)
            if holder is not None and holder.phone_hash == v.phone_hash:
                tx.update(
                    "holder",
                    holder,
                    [Citizen.phone_hash.remove(), Citizen.updated_at.set(now)],
                    Citizen.phone_hash == v.phone_hash,
                )
            if holder is not None and notice is not None:
                tx.put(
                    "notice",
                    notification_item(holder_id, notice),
                    Notification.notification_id.does_not_exist(),
                )
                counter_update(tx, holder_id, 1, "notice_counter")  # the inbox's unread
        old_hash = prover.phone_hash
        if old_hash and old_hash != v.phone_hash:
            # Re-linking your own different number frees the old one.
            tx.delete("old_link", PhoneLink(old_hash), PhoneLink.citizen_id == v.citizen_id)
        actions: list[Action] = [Citizen.phone_hash.set(v.phone_hash), Citizen.updated_at.set(now)]
        tx.update("prover", prover, actions)
        try:
            tx.commit()
        except ConditionsFailed as e:
            if "verification" in e.names:
                # Spent: by this very move, retried after an answer was lost, or otherwise.
                current = _get(PhoneLink, v.phone_hash)
                if (
                    current is not None
                    and current.citizen_id == v.citizen_id
                    and current.verification_id == v.verification_id
                ):
                    linked = _get(Citizen, v.citizen_id)
                    assert linked is not None
                    return citizen_of(linked)
                raise VerificationSpent(v.verification_id) from e
            raise RetryableConflict(f"phone link: {sorted(e.names)}") from e
        prover.phone_hash, prover.updated_at = v.phone_hash, now
        return citizen_of(prover)

    def unlink(self, citizen_id: str, now: datetime) -> citizens.Citizen:
        """Remove the citizen's link, if any. Raises RetryableConflict when the row or the
        link moved meanwhile, NotFound when there is no profile."""
        citizen = _get(Citizen, citizen_id)
        if citizen is None:
            raise NotFound("register first with PUT /v1/me", code="not_registered")
        if not citizen.phone_hash:
            return citizen_of(citizen)
        tx = NamedTransaction()
        link = _get(PhoneLink, citizen.phone_hash)
        if link is not None and link.citizen_id == citizen_id:
            tx.delete("link", link, PhoneLink.citizen_id == citizen_id)
        tx.update("citizen", citizen, [Citizen.phone_hash.remove(), Citizen.updated_at.set(now)])
        try:
            tx.commit()
        except ConditionsFailed as e:
            raise RetryableConflict(f"unlink {citizen_id}: {sorted(e.names)}") from e
        citizen.phone_hash, citizen.updated_at = None, now
        return citizen_of(citizen)


def _get(model: type[Citizen] | type[PhoneLink], key: str) -> Any:
    try:
        return model.get(key, consistent_read=True)
    except DoesNotExist:
        return None


def _verification_of(item: PhoneVerification) -> Verification:
    return Verification(
        verification_id=item.verification_id,
        citizen_id=item.citizen_id,
        phone_hash=item.phone_hash,
        code_hash=item.code_hash,
        created_at=item.created_at,
        expires_at=item.expires_at,
        tries_left=int(item.tries_left),
    )
