"""DynamoDB adapter for citizens: profiles and deposit codes (phone links: dynamodb_phones)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb_models import Citizen, DepositCode
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain import citizens
from chalicelib.domain.citizens import DepositCodeGrant, ProfileChange
from chalicelib.domain.closing import account_closed
from chalicelib.errors import RetryableConflict


class DynamoDbCitizens:
    def get(self, citizen_id: str) -> citizens.Citizen | None:
        found = self._get(citizen_id)
        return None if found is None else citizen_of(found)

    @staticmethod
    def _get(citizen_id: str) -> Citizen | None:
        try:
            return Citizen.get(citizen_id, consistent_read=True)
        except DoesNotExist:
            return None

    def save_profile(
        self, citizen_id: str, change: ProfileChange, now: datetime
    ) -> citizens.Citizen:
        """The profile, under the citizen's version (the phone link is changed only by a
        proof, chalicelib.adapters.dynamodb_phones). Raises RetryableConflict when a posting
        moved the version meanwhile."""
        citizen = self._get(citizen_id) or Citizen(citizen_id)
        if citizen.closed_at is not None:  # a PUT /v1/me that raced the close: nothing back
            raise account_closed()
        actions: list[Action] = [
            Citizen.display_name.set(change.display_name),
            Citizen.district.set(change.district),
            Citizen.updated_at.set(now),
        ]
        renamed = citizen.version is None or citizen.display_name != change.display_name
        if renamed:
            citizen.name_version = int(citizen.name_version or 0) + 1
            actions.append(Citizen.name_version.set(citizen.name_version))
        if citizen.version is None:
            actions += [
                Citizen.created_at.set(now),
                Citizen.balance.set(0),
                Citizen.lifetime_earned.set(0),
                Citizen.lifetime_paid.set(0),
            ]
        tx = NamedTransaction()
        tx.update("citizen", citizen, actions)
        try:
            tx.commit()
        except ConditionsFailed as e:
            raise RetryableConflict(f"profile {citizen_id}: {sorted(e.names)}") from e
        # The version condition held, so the stored row is what we read plus our change:
        # answer from memory instead of reading it back.
        citizen.display_name, citizen.district = change.display_name, change.district
        citizen.updated_at = now
        if citizen.created_at is None:
            citizen.created_at = now
            citizen.balance = citizen.lifetime_earned = citizen.lifetime_paid = 0
        return citizen_of(citizen)

    def reserve_code(self, grant: DepositCodeGrant, now: datetime) -> bool:
        """Keep a fresh grant unless its number is busy: a grant in the same slot, one in the
        slots before issued after `clear_before`, the old layout's row still valid after
        `legacy_clear_before`, or one in the slots after issued before `clear_from` (committed
        first). One transaction: a put and (at the default TTL) three condition checks."""
        item = DepositCode(
            grant.key,
            citizen_id=grant.citizen_id,
            issued_at=grant.issued_at,
            expires_at=grant.expires_at,
            used_by=None,
            expires=grant.reserved_until,
        )
        if grant.account is not None:
            item.account_version = grant.account.version
            item.account_balance = grant.account.balance
            item.account_phone_hash = grant.account.phone_hash
        assert grant.clear_before is not None and grant.legacy_clear_before is not None
        assert grant.clear_from is not None
        tx = NamedTransaction()
        tx.put("grant", item, DepositCode.code.does_not_exist())
        for n, key in enumerate(grant.previous_keys):
            tx.check(
                f"previous{n}",
                DepositCode,
                key,
                DepositCode.code.does_not_exist() | (DepositCode.issued_at <= grant.clear_before),
            )
        for n, key in enumerate(grant.next_keys):
            tx.check(
                f"next{n}",
                DepositCode,
                key,
                DepositCode.code.does_not_exist() | (DepositCode.issued_at >= grant.clear_from),
            )
        tx.check(
            "legacy",
            DepositCode,
            grant.code,
            DepositCode.code.does_not_exist()
            | (DepositCode.expires_at <= grant.legacy_clear_before),
        )
        try:
            tx.commit()
        except (ConditionsFailed, RetryableConflict):
            return False  # busy, or being granted by a concurrent request: draw another
        return True


def citizen_of(item: Citizen) -> citizens.Citizen:
    return citizens.Citizen(
        citizen_id=item.citizen_id,
        display_name=item.display_name,
        district=item.district,
        balance=int(item.balance),
        lifetime_earned=int(item.lifetime_earned),
        lifetime_paid=int(item.lifetime_paid),
        phone_hash=item.phone_hash,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version or 0),
        name_version=int(item.name_version or 0),
        closed_at=item.closed_at,
    )
