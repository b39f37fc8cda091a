"""Phone verifications in memory, and SMS recorded instead of sent."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from chalicelib.domain.citizens import Citizen
from chalicelib.domain.phone_proofs import Notice, Verification, VerificationSpent
from chalicelib.errors import NotFound, RetryableConflict
from tests.fakes.city import MemoryCity


class MemoryPhones:
    """Verifications and the link's move, as chalicelib.adapters.dynamodb_phones does them."""

    def __init__(self, city: MemoryCity) -> None:
        self._city = city
        self._verifications: dict[str, tuple[Verification, str]] = {}
        self._linked_by: dict[str, str] = {}
        self.notices: dict[str, list[Notice]] = {}

    def open(self, verification: Verification) -> None:
        with self._city.lock:
            if verification.verification_id in self._verifications:
                raise RetryableConflict("verification id in use")
            self._verifications[verification.verification_id] = (verification, "pending")

    def replayed(self, verification_id: str, citizen_id: str) -> Verification | None:
        found, status = self._verifications.get(verification_id, (None, ""))
        if found is None or status != "spent" or found.citizen_id != citizen_id:
            return None
        if self._city.links.get(found.phone_hash) != citizen_id:
            return None
        return found if self._linked_by.get(found.phone_hash) == verification_id else None

    def spend_try(self, verification_id: str, citizen_id: str, now: datetime) -> Verification:
        with self._city.lock:
            found, status = self._verifications.get(verification_id, (None, ""))
            if (
                found is None
                or status != "pending"
                or found.citizen_id != citizen_id
                or found.expires_at <= now
                or found.tries_left <= 0
            ):
                raise VerificationSpent(verification_id)
            spent = dataclasses.replace(found, tries_left=found.tries_left - 1)
            self._verifications[verification_id] = (spent, status)
            return spent

    def link(self, verification: Verification, now: datetime, notice: Notice | None) -> Citizen:
        v, city = verification, self._city
        with city.lock:
            stored, status = self._verifications[v.verification_id]
            if status != "pending" or stored.expires_at <= now:
                if (
                    city.links.get(v.phone_hash) == v.citizen_id
                    and self._linked_by.get(v.phone_hash) == v.verification_id
                ):
                    return city.citizens[v.citizen_id]
                raise VerificationSpent(v.verification_id)
            prover = city.citizens.get(v.citizen_id)
            if prover is None:
                raise NotFound("register first", code="not_registered")
            holder_id = city.links.get(v.phone_hash)
            if holder_id is not None and holder_id != v.citizen_id:
                holder = city.citizens.get(holder_id)
                if holder is not None and holder.phone_hash == v.phone_hash:
                    city.citizens[holder_id] = dataclasses.replace(
                        holder, phone_hash=None, updated_at=now, version=holder.version + 1
                    )
                if holder is not None and notice is not None:
                    self.notices.setdefault(holder_id, []).append(notice)
            old = prover.phone_hash
            if old and old != v.phone_hash and city.links.get(old) == v.citizen_id:
                city.links.pop(old)
                city.link_snapshots.pop(old, None)
            city.links[v.phone_hash] = v.citizen_id
            city.link_snapshots[v.phone_hash] = (prover.version + 1, prover.balance)
            self._linked_by[v.phone_hash] = v.verification_id
            linked = dataclasses.replace(
                prover, phone_hash=v.phone_hash, updated_at=now, version=prover.version + 1
            )
            city.citizens[v.citizen_id] = linked
            self._verifications[v.verification_id] = (stored, "spent")
            return linked

    def unlink(self, citizen_id: str, now: datetime) -> Citizen:
        city = self._city
        with city.lock:
            citizen = city.citizens.get(citizen_id)
            if citizen is None:
                raise NotFound("register first", code="not_registered")
            if not citizen.phone_hash:
                return citizen
            if city.links.get(citizen.phone_hash) == citizen_id:
                city.links.pop(citizen.phone_hash)
                city.link_snapshots.pop(citizen.phone_hash, None)
            unlinked = dataclasses.replace(
                citizen, phone_hash=None, updated_at=now, version=citizen.version + 1
            )
            city.citizens[citizen_id] = unlinked
            return unlinked


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, e164_number: str, text: str) -> None:
        self.sent.append((e164_number, text))

    def last_code(self, e164_number: str) -> str:
        import re

        text = next(t for to, t in reversed(self.sent) if to == e164_number)
        found = re.search(r"\b(\d{6})\b", text)
        assert found is not None
        return found.group(1)
