"""DynamoDB adapter for points: the ledger posting, and the reads a deposit is decided on.

`post` is the one write of money: guard, ledger entry, versioned account (with its payout
eligibility) and the posting's effects (their writes: chalicelib.adapters.dynamodb_effects),
in one TransactWriteItems.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.adapters.dynamodb_cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb_effects import effect_write
from chalicelib.adapters.dynamodb_models import (
    Citizen,
    CitizenDay,
    DepositCode,
    Device,
    DeviceState,
    LedgerEntry,
    PhoneLink,
    ProcessedEvent,
)
from chalicelib.adapters.dynamodb_reads import batch_get
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain import ledger
from chalicelib.domain.ledger import (
    Account,
    AlreadyPosted,
    Effect,
    EffectRefused,
    LedgerPage,
    PostedResult,
    Posting,
)
from chalicelib.domain.recycling import CodeRecord, FirstLook
from chalicelib.errors import RetryableConflict

GUARD_RETENTION = timedelta(days=30)
PAYOUT_BUCKETS = 16


def payout_bucket(citizen_id: str) -> str:
    """The eligibility index's partition for a citizen: stable, spread evenly."""
    return f"{zlib.crc32(citizen_id.encode('utf-8')) % PAYOUT_BUCKETS:02d}"


class DynamoDbLedger:
    def __init__(self, payout_threshold: int) -> None:
        self._payout_threshold = payout_threshold

    # Reads -----------------------------------------------------------------------------

    def first_look(
        self,
        guard_key: str,
        device_id: str,
        *,
        code_keys: Sequence[str] = (),
        phone_hash: str | None = None,
    ) -> FirstLook:
        """The device (registry and state), the guard, and the code's grants or the phone
        link, in one BatchGetItem (consistent but for the device's rows, which a deposit only
        reads)."""
        wanted: list[tuple[type[Model], str, str | None]] = [
            (Device, device_id, None),
            (DeviceState, device_id, None),
            (ProcessedEvent, guard_key, None),
        ]
        wanted += [(DepositCode, key, None) for key in code_keys]
        if phone_hash is not None:
            wanted.append((PhoneLink, phone_hash, None))
        items = batch_get(wanted, _EVENTUALLY_CONSISTENT)
        found = {type(item): item for item in items}
        grants = sorted(
            (item for item in items if isinstance(item, DepositCode)), key=lambda g: g.issued_at
        )
        device = found.get(Device)
        state = found.get(DeviceState)
        guard = found.get(ProcessedEvent)
        link = found.get(PhoneLink)
        snapshot: Account | None = None
        latest = grants[-1] if grants else None
        if isinstance(link, PhoneLink) and link.account_version is not None:
            snapshot = Account(
                link.citizen_id,
                int(link.account_balance or 0),
                int(link.account_version),
                link.phone_hash,
            )
        elif latest is not None and latest.account_version is not None:
            # The latest grant's holder is the one a deposit made with a live code names; a
            # snapshot of anyone else is not used (the deposit then reads its citizen).
            snapshot = Account(
                latest.citizen_id,
                int(latest.account_balance or 0),
                int(latest.account_version),
                latest.account_phone_hash,
            )
        return FirstLook(
            device_type=device.device_type if isinstance(device, Device) else None,
            settled=_result(guard) if isinstance(guard, ProcessedEvent) else None,
            codes=tuple(
                CodeRecord(
                    g.code.split("#")[1] if g.code.startswith("code#") else g.code,
                    g.citizen_id,
                    g.issued_at,
                    g.expires_at,
                    g.used_by,
                    g.code,
                )
                for g in grants
            ),
            phone_citizen_id=link.citizen_id if isinstance(link, PhoneLink) else None,
            account=snapshot,
            robot_accepting=not (isinstance(state, DeviceState) and state.accepting is False),
        )

    def account_and_day(self, citizen_id: str, day: str) -> tuple[Account | None, int | None]:
        """The citizen's account and the day's item count (None: no row yet), in one
        consistent BatchGetItem. A closed account is no account: nothing credits it."""
        found = _batch_get([(Citizen, citizen_id, None), (CitizenDay, citizen_id, day)])
        citizen = found.get(Citizen)
        counter = found.get(CitizenDay)
        open_account = isinstance(citizen, Citizen) and citizen.closed_at is None
        return (
            account_of(citizen) if open_account and isinstance(citizen, Citizen) else None,
            int(counter.items_credited) if isinstance(counter, CitizenDay) else None,
        )

    def page(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        start_key = (
            decode_cursor(
                cursor, hash_attr="citizen_id", hash_value=citizen_id, range_attr="entry_id"
            )
            if cursor
            else None
        )
        results = LedgerEntry.query(
            citizen_id, scan_index_forward=False, limit=limit, last_evaluated_key=start_key
        )
        entries = [entry_of(e) for e in results]
        last = results.last_evaluated_key
        return LedgerPage(entries, encode_cursor(last) if last and len(entries) == limit else None)

    def eligible_citizens(self) -> list[str]:
        """Every citizen whose balance reached the payout threshold, from the sparse index
        (a query per bucket, never a scan; eventually consistent, as any index read is)."""
        found: list[str] = []
        for bucket in range(PAYOUT_BUCKETS):
            found += [c.citizen_id for c in Citizen.payout_eligible.query(f"{bucket:02d}")]
        return sorted(found)

    # Writes ----------------------------------------------------------------------------

    def post(self, posting: Posting) -> PostedResult:
        """Raises AlreadyPosted when the guard exists, EffectRefused when an effect's
        condition failed, RetryableConflict when the account moved since it was read."""
        result = PostedResult(
            "credited", posting.points, posting.balance_after, posting.note, posting.entry_id
        )
        citizen_id = posting.account.citizen_id
        tx = NamedTransaction()
        tx.put(
            "guard",
            ProcessedEvent(
                posting.guard_key,
                status=result.status,
                citizen_id=citizen_id,
                points=posting.points,
                balance_after=posting.balance_after,
                entry_id=posting.entry_id,
                reason=posting.note,
                processed_at=posting.at,
                expires=posting.at + GUARD_RETENTION,
            ),
            ProcessedEvent.event_key.does_not_exist(),
        )
        tx.put(
            "ledger",
            LedgerEntry(
                citizen_id,
                posting.entry_id,
                kind=posting.kind,
                points=posting.points,
                balance_after=posting.balance_after,
                created_at=posting.at,
                source_key=posting.guard_key,
                detail=dict(posting.detail),
            ),
            LedgerEntry.entry_id.does_not_exist(),
        )
        eligible = ledger.payout_eligible(posting.balance_after, self._payout_threshold)
        tx.update(
            "account",
            Citizen(citizen_id, version=posting.account.version),
            actions=[
                Citizen.balance.add(posting.points),
                Citizen.lifetime_earned.add(posting.earned),
                Citizen.lifetime_paid.add(posting.paid),
                Citizen.updated_at.set(posting.at),
                Citizen.payout_bucket.set(payout_bucket(citizen_id))
                if eligible
                else Citizen.payout_bucket.remove(),
            ],
        )
        phone_hash = posting.account.phone_hash
        if phone_hash:
            # Refresh the link's snapshot, so the next deposit by phone need not read the
            # citizen (a link moved meanwhile fails this condition: read again and retry).
            tx.update(
                "link",
                PhoneLink(phone_hash),
                [
                    PhoneLink.account_version.set(posting.account.version + 1),
                    PhoneLink.account_balance.set(posting.balance_after),
                ],
                PhoneLink.citizen_id == citizen_id,
                versioned=False,
            )
        by_name: dict[str, Effect] = {}
        for index, effect in enumerate(posting.effects):
            name = f"effect{index}"
            by_name[name] = effect
            item, actions, condition = effect_write(effect, posting)
            tx.update(name, item, actions, condition, versioned=False)
        if posting.action is not None:
            put_in(tx, posting.action)
        try:
            tx.commit()
        except ConditionsFailed as e:
            if "guard" in e.names:
                raise AlreadyPosted(posting.guard_key) from e
            refused = [by_name[name] for name in sorted(e.names) if name in by_name]
            if refused:
                raise EffectRefused(refused[0]) from e
            raise RetryableConflict(f"post {posting.guard_key}: {sorted(e.names)}") from e
        return result

    def record_rejection(self, guard_key: str, reason: str, now: datetime) -> PostedResult:
        """Remember a final rejection so every redelivery gets the same answer.

        Returns what is recorded: this rejection, or the outcome a concurrent delivery of
        the same event recorded first.
        """
        guard = ProcessedEvent(
            guard_key,
            status="rejected",
            points=0,
            reason=reason,
            processed_at=now,
            expires=now + GUARD_RETENTION,
        )
        try:
            guard.save(condition=ProcessedEvent.event_key.does_not_exist())
        except PutError as e:
            if not condition_failed(e):
                raise
            return _result(ProcessedEvent.get(guard_key, consistent_read=True))
        return _result(guard)


def account_of(citizen: Citizen) -> Account:
    return Account(
        citizen.citizen_id, int(citizen.balance), int(citizen.version or 0), citizen.phone_hash
    )


def entry_of(entry: LedgerEntry) -> ledger.LedgerEntry:
    detail = entry.detail.as_dict() if hasattr(entry.detail, "as_dict") else dict(entry.detail)
    return ledger.LedgerEntry(
        citizen_id=entry.citizen_id,
        entry_id=entry.entry_id,
        kind=entry.kind,
        points=int(entry.points),
        balance_after=int(entry.balance_after),
        created_at=entry.created_at,
        source_key=entry.source_key,
        detail=detail,
    )


def entry_from_image(image: dict[str, Any]) -> ledger.LedgerEntry:
    """A ledger entry from a stream record's NewImage."""
    return entry_of(LedgerEntry.from_raw_data(image))


def _result(item: ProcessedEvent) -> PostedResult:
    balance = None if item.balance_after is None else int(item.balance_after)
    if item.status == "credited":
        return PostedResult("credited", int(item.points), balance, item.reason, item.entry_id)
    return PostedResult("rejected", 0, None, item.reason)


_EVENTUALLY_CONSISTENT: frozenset[type[Model]] = frozenset({Device, DeviceState})


def _batch_get(wanted: list[tuple[type[Model], str, str | None]]) -> dict[type[Model], Model]:
    """At most one item per model, from several tables in one request."""
    return {type(item): item for item in batch_get(wanted, _EVENTUALLY_CONSISTENT)}
