"""DynamoDB adapter for points: reads for a deposit, and the one transaction that credits it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.adapters.dynamodb_models import (
    Citizen,
    CitizenDay,
    DepositCode,
    LedgerEntry,
    PhoneLink,
    ProcessedEvent,
)
from chalicelib.domain.ids import sortable_id
from chalicelib.errors import BadRequest, RetryableConflict

GUARD_RETENTION = timedelta(days=30)
DAY_RETENTION = timedelta(days=40)


class AlreadyProcessed(Exception):
    """The guard for this event exists: its effect happened once already."""


class CodeAlreadyUsed(Exception):
    """Another deposit consumed the code between our read and our write."""


@dataclass(frozen=True)
class ProcessedResult:
    citizen_id: str
    points: int
    balance_after: int
    entry_id: str
    reason: str | None


@dataclass(frozen=True)
class CodeRecord:
    code: str
    citizen_id: str
    expires_at: datetime
    used_by: str | None


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class CreditCommand:
    """Everything the credit transaction writes, decided by the service beforehand."""

    event_key: str
    citizen: Citizen
    day: CitizenDay
    points: int
    items_credited: int
    kind: str
    detail: dict[str, Any]
    now: datetime
    code: str | None = None
    reason: str | None = None


class DynamoDbPoints:
    def __init__(self, connection: Connection | None = None) -> None:
        self._connection = connection

    def _conn(self) -> Connection:
        if self._connection is None:
            self._connection = Connection(region=config.region())
        return self._connection

    # Reads -----------------------------------------------------------------------------

    def processed(self, event_key: str) -> ProcessedResult | None:
        try:
            item = ProcessedEvent.get(event_key, consistent_read=True)
        except DoesNotExist:
            return None
        return ProcessedResult(
            item.citizen_id, int(item.points), int(item.balance_after), item.entry_id, item.reason
        )

    def code(self, code: str) -> CodeRecord | None:
        try:
            item = DepositCode.get(code, consistent_read=True)
        except DoesNotExist:
            return None
        return CodeRecord(item.code, item.citizen_id, item.expires_at, item.used_by)

    def citizen_for_phone(self, phone_hash: str) -> str | None:
        try:
            return PhoneLink.get(phone_hash).citizen_id
        except DoesNotExist:
            return None

    def citizen(self, citizen_id: str) -> Citizen | None:
        try:
            return Citizen.get(citizen_id, consistent_read=True)
        except DoesNotExist:
            return None

    def day(self, citizen_id: str, day: str) -> CitizenDay:
        try:
            return CitizenDay.get(citizen_id, day, consistent_read=True)
        except DoesNotExist:
            return CitizenDay(citizen_id, day, items_credited=0)

    def ledger_page(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        start_key = _decode_cursor(cursor, citizen_id) if cursor else None
        results = LedgerEntry.query(
            citizen_id, scan_index_forward=False, limit=limit, last_evaluated_key=start_key
        )
        entries = list(results)
        last = results.last_evaluated_key
        return LedgerPage(entries, _encode_cursor(last) if last and len(entries) == limit else None)

    # The credit --------------------------------------------------------------------------

    def credit(self, cmd: CreditCommand) -> None:
        """One TransactWriteItems: guard, ledger entry, balance, day count (and the code).

        Raises AlreadyProcessed when the guard exists, CodeAlreadyUsed when the code went
        to another deposit, RetryableConflict when a concurrent write moved a version.
        """
        balance_after = int(cmd.citizen.balance) + cmd.points
        entry_id = ledger_entry_id(cmd.citizen, cmd.now)
        guard = ProcessedEvent(
            cmd.event_key,
            citizen_id=cmd.citizen.citizen_id,
            points=cmd.points,
            balance_after=balance_after,
            entry_id=entry_id,
            reason=cmd.reason,
            processed_at=cmd.now,
            expires=cmd.now + GUARD_RETENTION,
        )
        entry = LedgerEntry(
            cmd.citizen.citizen_id,
            entry_id,
            kind=cmd.kind,
            points=cmd.points,
            balance_after=balance_after,
            created_at=cmd.now,
            source_key=cmd.event_key,
            detail=cmd.detail,
        )
        # PynamoDB orders a transaction's items: puts, then updates. Reasons follow that order.
        order = ["guard", "ledger", "citizen", "day"]
        try:
            with TransactWrite(connection=self._conn()) as tx:
                tx.save(guard, condition=ProcessedEvent.event_key.does_not_exist())
                tx.save(entry, condition=LedgerEntry.entry_id.does_not_exist())
                tx.update(
                    cmd.citizen,
                    actions=[
                        Citizen.balance.add(cmd.points),
                        Citizen.lifetime_earned.add(cmd.points),
                        Citizen.updated_at.set(cmd.now),
                    ],
                )
                tx.update(
                    cmd.day,
                    actions=[
                        CitizenDay.items_credited.add(cmd.items_credited),
                        CitizenDay.expires.set(cmd.now + DAY_RETENTION),
                    ],
                )
                if cmd.code is not None:
                    order.append("code")
                    tx.update(
                        DepositCode(cmd.code),
                        actions=[DepositCode.used_by.set(cmd.event_key)],
                        condition=DepositCode.used_by.does_not_exist()
                        & (DepositCode.citizen_id == cmd.citizen.citizen_id),
                    )
        except TransactWriteError as e:
            failed = _failed_items(e, order)
            if "guard" in failed:
                raise AlreadyProcessed(cmd.event_key) from e
            if "code" in failed:
                raise CodeAlreadyUsed(cmd.code) from e
            raise RetryableConflict(f"credit {cmd.event_key}: {sorted(failed)}") from e


def ledger_entry_id(citizen: Citizen, now: datetime) -> str:
    """Sorts a citizen's entries in the order their balance moved: the citizen's version
    (which every balance change bumps under a condition) first, then time."""
    return f"{int(citizen.version or 0) + 1:012d}-{sortable_id(now)}"


def _failed_items(error: TransactWriteError, order: list[str]) -> set[str]:
    reasons = error.cancellation_reasons or []
    failed = {
        name
        for name, reason in zip(order, reasons, strict=False)
        if reason is not None and reason.code not in (None, "None")
    }
    if not failed and error.cause_response_code not in (
        "TransactionCanceledException",
        "TransactionConflictException",
    ):
        raise error
    return failed


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, citizen_id: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        owner = key["citizen_id"]["S"]
        key["entry_id"]["S"]
    except (ValueError, KeyError, TypeError) as e:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from e
    if owner != citizen_id:
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return dict(key)
