"""The citizens store in memory."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.citizens import Citizen, DepositCodeGrant, ProfileChange
from chalicelib.domain.recycling import CodeRecord
from tests.fakes.city import MemoryCity, _Code


class MemoryCitizens:
    def __init__(self, city: MemoryCity) -> None:
        self._city = city

    def get(self, citizen_id: str) -> Citizen | None:
        return self._city.citizens.get(citizen_id)

    def save_profile(self, citizen_id: str, change: ProfileChange, now: datetime) -> Citizen:
        city = self._city
        with city.lock:
            old = city.citizens.get(citizen_id)
            saved = Citizen(
                citizen_id=citizen_id,
                display_name=change.display_name,
                district=change.district,
                balance=old.balance if old else 0,
                lifetime_earned=old.lifetime_earned if old else 0,
                lifetime_paid=old.lifetime_paid if old else 0,
                phone_hash=old.phone_hash if old else None,
                created_at=old.created_at if old else now,
                updated_at=now,
                version=(old.version if old else 0) + 1,
                name_version=(old.name_version if old else 0)
                + (old is None or old.display_name != change.display_name),
            )
            city.citizens[citizen_id] = saved
            return saved

    def reserve_code(self, grant: DepositCodeGrant, now: datetime) -> bool:
        """As the DynamoDB adapter: the slot's key free, the slots before's grants issued at
        or before `clear_before`, the slots after's at or after `clear_from`, the old
        layout's row expired by `legacy_clear_before`."""
        assert grant.clear_before is not None and grant.legacy_clear_before is not None
        with self._city.lock:
            codes = self._city.codes
            before = [codes[k] for k in grant.previous_keys if k in codes]
            after = [codes[k] for k in grant.next_keys if k in codes]
            legacy = codes.get(grant.code)
            if (
                grant.key in codes
                or any(c.record.issued_at > grant.clear_before for c in before)
                or (legacy is not None and legacy.record.expires_at > grant.legacy_clear_before)
                or (
                    grant.clear_from is not None
                    and any(c.record.issued_at < grant.clear_from for c in after)
                )
            ):
                return False
            record = CodeRecord(
                grant.code, grant.citizen_id, grant.issued_at, grant.expires_at, None, grant.key
            )
            codes[grant.key] = _Code(record, grant.reserved_until, grant.account)
            return True
