"""DynamoDB adapter for citizens: profiles with their phone link, and deposit codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.adapters.dynamodb_models import Citizen, DepositCode, PhoneLink
from chalicelib.errors import RetryableConflict

_CONDITION_FAILED = "ConditionalCheckFailed"


class PhoneTaken(Exception):
    """The phone number is linked to another citizen."""


@dataclass(frozen=True)
class ProfileChange:
    display_name: str
    district: str
    # None: leave the phone link as it is; "" : remove it; otherwise the new keyed hash.
    phone_hash: str | None


class DynamoDbCitizens:
    def get(self, citizen_id: str) -> Citizen | None:
        try:
            return Citizen.get(citizen_id, consistent_read=True)
        except DoesNotExist:
            return None

    def save_profile(self, citizen_id: str, change: ProfileChange, now: datetime) -> Citizen:
        """Profile and phone link in one transaction, under the citizen's version.

        Raises PhoneTaken, or RetryableConflict when a deposit moved the version meanwhile.
        """
        citizen = self.get(citizen_id) or Citizen(citizen_id)
        actions: list[Action] = [
            Citizen.display_name.set(change.display_name),
            Citizen.district.set(change.district),
            Citizen.updated_at.set(now),
        ]
        if citizen.version is None:
            actions += [
                Citizen.created_at.set(now),
                Citizen.balance.set(0),
                Citizen.lifetime_earned.set(0),
                Citizen.lifetime_paid.set(0),
            ]
        old_hash = citizen.phone_hash
        new_hash = old_hash if change.phone_hash is None else (change.phone_hash or None)
        if new_hash != old_hash:
            actions.append(
                Citizen.phone_hash.set(new_hash) if new_hash else Citizen.phone_hash.remove()
            )
        order = ["citizen"]
        try:
            with TransactWrite(connection=_connection()) as tx:
                if new_hash and new_hash != old_hash:
                    order.insert(0, "link")
                    tx.save(
                        PhoneLink(new_hash, citizen_id=citizen_id, linked_at=now),
                        condition=PhoneLink.phone_hash.does_not_exist()
                        | (PhoneLink.citizen_id == citizen_id),
                    )
                if old_hash and new_hash != old_hash:
                    # Deletes come before puts in PynamoDB's order.
                    order.insert(0, "unlink")
                    tx.delete(PhoneLink(old_hash), condition=PhoneLink.citizen_id == citizen_id)
                tx.update(citizen, actions=actions)
        except TransactWriteError as e:
            reasons = [getattr(r, "code", None) for r in (e.cancellation_reasons or [])]
            failed = {name for name, code in zip(order, reasons, strict=False) if code}
            if "link" in failed and _only_conditions(reasons):
                raise PhoneTaken() from e
            if e.cause_response_code in ("TransactionCanceledException", "TransactionConflict"):
                raise RetryableConflict(f"profile {citizen_id}") from e
            raise
        # The version condition held, so the stored row is what we read plus our change:
        # answer from memory instead of reading it back.
        citizen.display_name, citizen.district = change.display_name, change.district
        citizen.updated_at, citizen.phone_hash = now, new_hash
        if citizen.created_at is None:
            citizen.created_at = now
            citizen.balance = citizen.lifetime_earned = citizen.lifetime_paid = 0
        return citizen

    def reserve_code(self, item: DepositCode, now: datetime) -> bool:
        """Store a fresh code unless its number is still reserved by an earlier one."""
        try:
            item.save(condition=DepositCode.code.does_not_exist() | (DepositCode.expires < now))
            return True
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise


def _only_conditions(reasons: list[str | None]) -> bool:
    return all(code in (None, "None", _CONDITION_FAILED) for code in reasons)


@cache
def _connection() -> Connection:
    return Connection(region=config.region())
