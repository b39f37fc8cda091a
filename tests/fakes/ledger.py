"""The ledger in memory: postings, guards and the effects that ride with them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime

from chalicelib.domain import ledger
from chalicelib.domain.ledger import (
    Account,
    AlreadyPosted,
    EffectRefused,
    LedgerEntry,
    LedgerPage,
    PostedResult,
    Posting,
)
from chalicelib.domain.recycling import FirstLook
from chalicelib.errors import BadRequest, RetryableConflict
from tests.fakes.city import MemoryCity, _decode, _encode
from tests.fakes.effects import apply_effect, effect_holds


class MemoryLedger:
    def __init__(
        self,
        city: MemoryCity,
        payout_threshold: int = 2000,
        devices: dict[str, str] | None = None,
    ) -> None:
        self._city = city
        self._threshold = payout_threshold
        self._devices = devices or {}
        self.before_post: Callable[[Posting], None] | None = None
        """A hook to interleave another write between a read and this posting (races)."""

    def first_look(
        self,
        guard_key: str,
        device_id: str = "",
        *,
        code_keys: Sequence[str] = (),
        phone_hash: str | None = None,
    ) -> FirstLook:
        city = self._city
        grants = sorted(
            (city.codes[k] for k in code_keys if k in city.codes),
            key=lambda g: g.record.issued_at,
        )
        held = grants[-1] if grants else None
        owner = city.links.get(phone_hash) if phone_hash is not None else None
        snapshot = held.account if held else None
        if owner is not None and phone_hash in city.link_snapshots:
            version, balance = city.link_snapshots[phone_hash]
            snapshot = Account(owner, balance, version, phone_hash)
        return FirstLook(
            device_type=self._devices.get(device_id),
            settled=city.guards.get(guard_key),
            codes=tuple(g.record for g in grants),
            phone_citizen_id=owner,
            account=snapshot,
        )

    def account_and_day(self, citizen_id: str, day: str) -> tuple[Account | None, int | None]:
        citizen = self._city.citizens.get(citizen_id)
        return (citizen.account if citizen else None, self._city.days.get((citizen_id, day)))

    def post(self, posting: Posting) -> PostedResult:
        if self.before_post is not None:
            hook, self.before_post = self.before_post, None
            hook(posting)
        city = self._city
        citizen_id = posting.account.citizen_id
        with city.lock:
            if posting.guard_key in city.guards:
                raise AlreadyPosted(posting.guard_key)
            current = city.citizens.get(citizen_id)
            for effect in posting.effects:
                if not effect_holds(city, effect):
                    raise EffectRefused(effect)
            if current is None or current.version != posting.account.version:
                raise RetryableConflict(f"{citizen_id} moved")
            link = posting.account.phone_hash
            if link and city.links.get(link) != citizen_id:
                raise RetryableConflict(f"{citizen_id}: the phone link moved")
            if link:
                city.link_snapshots[link] = (current.version + 1, posting.balance_after)
            for effect in posting.effects:
                apply_effect(city, effect, posting)
            city.citizens[citizen_id] = dataclasses.replace(
                current,
                balance=posting.balance_after,
                lifetime_earned=current.lifetime_earned + posting.earned,
                lifetime_paid=current.lifetime_paid + posting.paid,
                updated_at=posting.at,
                version=current.version + 1,
            )
            if ledger.payout_eligible(posting.balance_after, self._threshold):
                city.eligible.add(citizen_id)
            else:
                city.eligible.discard(citizen_id)
            city.entries.setdefault(citizen_id, []).append(
                LedgerEntry(
                    citizen_id,
                    posting.entry_id,
                    posting.kind,
                    posting.points,
                    posting.balance_after,
                    posting.at,
                    posting.guard_key,
                    dict(posting.detail),
                )
            )
            result = PostedResult(
                "credited", posting.points, posting.balance_after, posting.note, posting.entry_id
            )
            city.guards[posting.guard_key] = result
            if posting.action is not None:
                city.staff_actions.append(posting.action)
            return result

    def record_rejection(self, guard_key: str, reason: str, now: datetime) -> PostedResult:
        with self._city.lock:
            return self._city.guards.setdefault(
                guard_key, PostedResult("rejected", 0, None, reason)
            )

    def page(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        entries = sorted(
            self._city.entries.get(citizen_id, []), key=lambda e: e.entry_id, reverse=True
        )
        if cursor is not None:
            owner, _, after = _decode(cursor).partition("|")
            if owner != citizen_id or not after:
                raise BadRequest("the cursor is not valid", code="invalid_cursor")
            entries = [e for e in entries if e.entry_id < after]
        page = entries[:limit]
        more = len(entries) > limit
        return LedgerPage(page, _encode(f"{citizen_id}|{page[-1].entry_id}") if more else None)

    def eligible_citizens(self) -> list[str]:
        return sorted(self._city.eligible)
