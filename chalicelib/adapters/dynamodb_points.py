"""DynamoDB adapter for points: reads for a deposit, and the one transaction that credits it."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.adapters import aws_clients
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
    """The first outcome of an event: `credited` (points, balance_after) or `rejected`."""

    status: str
    points: int
    balance_after: int | None
    reason: str | None


@dataclass(frozen=True)
class CodeRecord:
    code: str
    citizen_id: str
    issued_at: datetime
    expires_at: datetime
    used_by: str | None


@dataclass(frozen=True)
class FirstLook:
    processed: ProcessedResult | None
    code: CodeRecord | None
    phone_citizen_id: str | None


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

    def first_look(
        self, event_key: str, *, code: str | None = None, phone_hash: str | None = None
    ) -> FirstLook:
        """The guard, and the code or phone link, in one consistent BatchGetItem."""
        wanted: list[tuple[type[Model], str, str | None]] = [(ProcessedEvent, event_key, None)]
        if code is not None:
            wanted.append((DepositCode, code, None))
        if phone_hash is not None:
            wanted.append((PhoneLink, phone_hash, None))
        found = _batch_get(wanted)
        guard = found.get(ProcessedEvent)
        record = found.get(DepositCode)
        link = found.get(PhoneLink)
        return FirstLook(
            processed=_processed(guard) if isinstance(guard, ProcessedEvent) else None,
            code=(
                CodeRecord(
                    record.code,
                    record.citizen_id,
                    record.issued_at,
                    record.expires_at,
                    record.used_by,
                )
                if isinstance(record, DepositCode)
                else None
            ),
            phone_citizen_id=link.citizen_id if isinstance(link, PhoneLink) else None,
        )

    def citizen_and_day(self, citizen_id: str, day: str) -> tuple[Citizen | None, CitizenDay]:
        """The citizen's balance and the day's item count, in one consistent BatchGetItem."""
        found = _batch_get([(Citizen, citizen_id, None), (CitizenDay, citizen_id, day)])
        citizen = found.get(Citizen)
        counter = found.get(CitizenDay)
        return (
            citizen if isinstance(citizen, Citizen) else None,
            counter
            if isinstance(counter, CitizenDay)
            else CitizenDay(citizen_id, day, items_credited=0),
        )

    def ledger_page(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        start_key = _decode_cursor(cursor, citizen_id) if cursor else None
        results = LedgerEntry.query(
            citizen_id, scan_index_forward=False, limit=limit, last_evaluated_key=start_key
        )
        entries = list(results)
        last = results.last_evaluated_key
        return LedgerPage(entries, _encode_cursor(last) if last and len(entries) == limit else None)

    def record_rejection(self, event_key: str, reason: str, now: datetime) -> ProcessedResult:
        """Remember a final rejection so every redelivery gets the same answer.

        Returns what is recorded: this rejection, or the outcome a concurrent delivery of
        the same event recorded first.
        """
        guard = ProcessedEvent(
            event_key,
            status="rejected",
            points=0,
            reason=reason,
            processed_at=now,
            expires=now + GUARD_RETENTION,
        )
        try:
            guard.save(condition=ProcessedEvent.event_key.does_not_exist())
        except PutError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
            return _processed(ProcessedEvent.get(event_key, consistent_read=True))
        return _processed(guard)

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
            status="credited",
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


def _processed(item: ProcessedEvent) -> ProcessedResult:
    balance = None if item.balance_after is None else int(item.balance_after)
    return ProcessedResult(item.status, int(item.points), balance, item.reason)


def _raw_key(model: type[Model], hash_key: str, range_key: str | None) -> dict[str, Any]:
    key_attr = model._hash_key_attribute()
    key = {key_attr.attr_name: {key_attr.attr_type: key_attr.serialize(hash_key)}}
    if range_key is not None:
        range_attr = model._range_key_attribute()
        key[range_attr.attr_name] = {range_attr.attr_type: range_attr.serialize(range_key)}
    return key


def _batch_get(wanted: list[tuple[type[Model], str, str | None]]) -> dict[type[Model], Model]:
    """At most one item per model, read consistently from several tables in one request."""
    by_table = {model.Meta.table_name: model for model, _, _ in wanted}
    request: dict[str, Any] = {
        model.Meta.table_name: {"Keys": [_raw_key(model, h, r)], "ConsistentRead": True}
        for model, h, r in wanted
    }
    found: dict[type[Model], Model] = {}
    for attempt in range(8):
        response = aws_clients.client("dynamodb").batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            for item in items:
                found[by_table[table]] = by_table[table].from_raw_data(item)
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
        time.sleep(0.01 * 2**attempt)
    raise RetryableConflict("DynamoDB left keys unprocessed; the record will be retried")


def ledger_entry_id(citizen: Citizen, now: datetime) -> str:
    """Sorts a citizen's entries in the order their balance moved: the citizen's version
    (which every balance change bumps under a condition) first, then time."""
    return f"{int(citizen.version or 0) + 1:012d}-{sortable_id(now)}"


def _failed_items(error: TransactWriteError, order: list[str]) -> set[str]:
    """The items whose condition failed. A cancellation for any other reason (a conflicting
    transaction, throttling) is transient: it says nothing about the guard or the code."""
    if error.cause_response_code not in (
        "TransactionCanceledException",
        "TransactionConflictException",
    ):
        raise error
    codes = [
        (name, getattr(reason, "code", None))
        for name, reason in zip(order, error.cancellation_reasons or [], strict=False)
    ]
    if any(code not in (None, "None", "ConditionalCheckFailed") for _, code in codes):
        raise RetryableConflict(f"transaction cancelled: {codes}") from error
    return {name for name, code in codes if code == "ConditionalCheckFailed"}


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, citizen_id: str) -> dict[str, Any]:
    """The start key a cursor stands for, rebuilt from its two strings and nothing else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        owner = key["citizen_id"]["S"]
        entry_id = key["entry_id"]["S"]
    except (ValueError, KeyError, TypeError) as e:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from e
    if owner != citizen_id or not isinstance(entry_id, str) or not entry_id:
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return {"citizen_id": {"S": citizen_id}, "entry_id": {"S": entry_id}}
