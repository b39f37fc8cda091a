"""DynamoDB adapter for the quarantine store: messages that could not be processed. The
store's door (`stored_text`) is the one place refused messages are redacted: callers hand
over what the device sent, and no phone number reaches the table or the admins who read it.

A reprocessable source's entry also keeps the queue message as it arrived, sealed under the
data key (`original`, adapters.kms_secrets): reprocessing needs the phone number the
redacted copy masks, and nobody reads it but the handler it is sent through again. An
operator closes an entry once (open -> reprocessed | discarded), by a conditional update in
one transaction with its action log entry; a reprocess first claims the entry (a lease), so
one runs at a time and the outcome recorded is the one that ran.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from typing import Any, Final, NoReturn, Protocol

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.adapters import dynamodb_staff_actions
from chalicelib.adapters.dynamodb_cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb_models import QuarantinedMessage
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain import operations
from chalicelib.domain.clock import Clock
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.phones import redact_phones
from chalicelib.domain.staff_actions import StaffAction

RETENTION = timedelta(days=90)
MAX_STORED_PAYLOAD = 16 * 1024
MAX_STORED_DETAILS = 2000
MAX_SEALED = 300_000
"""A sealed original larger than this is not kept (an item holds at most 400 KB): its entry
can be discarded, not reprocessed. A deposit seals to well under 1 KB."""


class Sealer(Protocol):
    def seal(self, plaintext: str, context: dict[str, str]) -> str: ...
    def unseal(self, sealed: str, context: dict[str, str]) -> str: ...


def _context(source: str, quarantine_id: str) -> dict[str, str]:
    return {"purpose": "quarantine", "entry": operations.entry_id(source, quarantine_id)}


# A JSON member named "phone" and its string or number value, wherever it appears.
_PHONE_MEMBER: Final = re.compile(r'("phone"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*)')


class DynamoDbQuarantine:
    def __init__(self, clock: Clock, sealer: Sealer | None = None) -> None:
        self._clock = clock
        self._sealer = sealer

    def quarantine(
        self,
        *,
        source: operations.QuarantineSource,
        reason: str,
        device_id: str | None,
        event_id: str | None,
        details: str,
        payload: str | None,
        original: str | None = None,
    ) -> None:
        """Store a refused message. Every text field passes through the one redaction here,
        at the only door into the store: a refused message is exactly where a number
        written oddly ends up. `original` (the queue message as it arrived) is kept sealed,
        for a reprocessable source only."""
        now = self._clock()
        quarantine_id = sortable_id(now)
        sealed = None
        if original is not None and source in operations.REPROCESSABLE and self._sealer:
            sealed = self._sealer.seal(original, _context(source, quarantine_id))
            if len(sealed) > MAX_SEALED:
                sealed = None
        QuarantinedMessage(
            source,
            quarantine_id,
            reason=reason,
            device_id=stored_text(device_id),
            event_id=stored_text(event_id),
            details=stored_text(details, MAX_STORED_DETAILS),
            payload=stored_text(payload, MAX_STORED_PAYLOAD),
            received_at=now,
            expires=now + RETENTION,
            original=sealed,
            status=operations.OPEN,
        ).save()

    @staticmethod
    def newest(source: str, limit: int, cursor: str | None = None) -> operations.QuarantinePage:
        start_key = (
            decode_cursor(cursor, hash_attr="source", hash_value=source, range_attr="quarantine_id")
            if cursor
            else None
        )
        results = QuarantinedMessage.query(
            source, scan_index_forward=False, limit=limit, last_evaluated_key=start_key
        )
        items = [_entry(q) for q in results]
        last = results.last_evaluated_key
        return operations.QuarantinePage(
            items, encode_cursor(last) if last and len(items) == limit else None
        )

    def read(
        self, source: str, quarantine_id: str, *, original: bool = False
    ) -> tuple[operations.QuarantinedMessage, str | None] | None:
        """One entry (a consistent read), and its message as it arrived when asked for and
        kept; None when there is no such entry."""
        try:
            item = QuarantinedMessage.get(source, quarantine_id, consistent_read=True)
        except DoesNotExist:
            return None
        opened = None
        if original and item.original and self._sealer:
            opened = self._sealer.unseal(item.original, _context(source, quarantine_id))
        return _entry(item), opened

    def claim(
        self, source: str, quarantine_id: str, claim_id: str, until: datetime, now: datetime
    ) -> None:
        """Take the entry for one reprocess until `until` (a lease: a reprocess that dies
        leaves it to expire). Raises EntryClosed, EntryBusy or LookupError."""
        item = QuarantinedMessage(source, quarantine_id)
        try:
            item.update(
                actions=[
                    QuarantinedMessage.claim_id.set(claim_id),
                    QuarantinedMessage.claimed_until.set(until),
                ],
                condition=_still_open() & _unclaimed(now),
            )
        except UpdateError as e:
            if not condition_failed(e):
                raise
            self._refusal(source, quarantine_id, e)

    def release(
        self, source: str, quarantine_id: str, claim_id: str, action: StaffAction | None
    ) -> None:
        """Give the claim back, the entry still open (with the attempt's action, if any)."""
        item = QuarantinedMessage(source, quarantine_id)
        transaction = NamedTransaction()
        transaction.update(
            "entry",
            item,
            [QuarantinedMessage.claim_id.remove(), QuarantinedMessage.claimed_until.remove()],
            condition=QuarantinedMessage.claim_id == claim_id,
            versioned=False,
        )
        if action is not None:
            dynamodb_staff_actions.put_in(transaction, action)
        with contextlib.suppress(ConditionsFailed):
            transaction.commit()  # a claim lost to its expiry: nothing of ours to give back

    def close(
        self,
        source: str,
        quarantine_id: str,
        closed: operations.Closed,
        action: StaffAction,
        claim_id: str | None = None,
    ) -> None:
        """Open -> `closed.status`, once, with its action log entry in the same transaction:
        by the holder of `claim_id` (a reprocess), or unclaimed (a discard). Raises
        EntryClosed or EntryBusy with what it found (LookupError: no such entry)."""
        item = QuarantinedMessage(source, quarantine_id)
        outcome = {k: v for k, v in closed.outcome.items() if v is not None}
        actions: list[Any] = [
            QuarantinedMessage.status.set(closed.status),
            QuarantinedMessage.closed_at.set(closed.at),
            QuarantinedMessage.closed_by.set(closed.by),
            QuarantinedMessage.claim_id.remove(),
            QuarantinedMessage.claimed_until.remove(),
        ]
        if closed.note is not None:
            actions.append(QuarantinedMessage.note.set(closed.note))
        if outcome:
            actions.append(QuarantinedMessage.outcome.set(outcome))
        held = (
            QuarantinedMessage.claim_id == claim_id
            if claim_id is not None
            else _unclaimed(closed.at)
        )
        transaction = NamedTransaction()
        transaction.update("entry", item, actions, condition=_still_open() & held, versioned=False)
        dynamodb_staff_actions.put_in(transaction, action)
        try:
            transaction.commit()
        except ConditionsFailed as e:
            self._refusal(source, quarantine_id, e)

    def _refusal(self, source: str, quarantine_id: str, error: Exception) -> NoReturn:
        found = self.read(source, quarantine_id)
        if found is None:
            raise LookupError(quarantine_id) from error
        if found[0].status != operations.OPEN:
            raise operations.EntryClosed(found[0].status) from error
        raise operations.EntryBusy(quarantine_id) from error


def _still_open() -> Any:
    return QuarantinedMessage.quarantine_id.exists() & (
        QuarantinedMessage.status.does_not_exist() | (QuarantinedMessage.status == operations.OPEN)
    )


def _unclaimed(now: datetime) -> Any:
    return QuarantinedMessage.claimed_until.does_not_exist() | (
        QuarantinedMessage.claimed_until < now
    )


def _entry(q: QuarantinedMessage) -> operations.QuarantinedMessage:
    status = q.status if q.status in (operations.REPROCESSED, operations.DISCARDED) else "open"
    outcome = q.outcome.as_dict() if q.outcome is not None else None
    return operations.QuarantinedMessage(
        source=q.source,
        quarantine_id=q.quarantine_id,
        reason=q.reason,
        device_id=q.device_id,
        event_id=q.event_id,
        details=q.details,
        payload=q.payload,
        received_at=q.received_at,
        status=status,  # type: ignore[arg-type]
        closed_at=q.closed_at,
        closed_by=q.closed_by,
        note=q.note,
        outcome=outcome,
        reprocessable=q.original is not None and q.source in operations.REPROCESSABLE,
    )


def stored_text(text: str | None, limit: int | None = None) -> str | None:
    """A field as the store keeps it: a `"phone"` member's value masked whatever it holds,
    every run of digits that reads as a mobile number replaced by <phone>, then cut to
    `limit` (redacted before the cut, so a cut never leaves a partial number unrecognised)."""
    if text is None:
        return None
    redacted = redact_phones(_PHONE_MEMBER.sub(r'\1"<phone>"', text))
    return redacted if limit is None else redacted[:limit]
