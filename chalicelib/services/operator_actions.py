"""What operators do about messages the city could not process (DESIGN §4b): reprocess or
discard a quarantined message, redrive a dead-letter queue. Each is recorded in the action
log: in the same transaction as the entry's status change, or appended after a redrive (an
SQS action, no DynamoDB write).

Reprocess claims the entry (a conditional write: open and unclaimed, with a lease that
outlives any request), sends the message as it arrived through its handler again, then
closes the entry (open -> reprocessed) with the outcome that ran. A second reprocess at the
same time finds the claim: 409 `entry_busy`; one after the close: 409 `entry_closed` with
the status. Crediting is exactly once however the claim fares (a lease that expired under a
slow request lets a second one run): the handler's own guard, a deposit's event id in the
posting's transaction, makes a second run `duplicate`. A message still refused gives its
claim back and leaves its entry open (one open entry per message, never a second one),
the answer says why, and the attempt is in the action log (one transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Protocol

from chalicelib.domain import operations
from chalicelib.domain.clock import Clock
from chalicelib.domain.operations import (
    Closed,
    EntryBusy,
    EntryClosed,
    QuarantinedMessage,
    Replayed,
)
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.errors import Conflict, NotFound


class QuarantineEntries(Protocol):
    def read(
        self, source: str, quarantine_id: str, *, original: bool = False
    ) -> tuple[QuarantinedMessage, str | None] | None: ...
    def claim(
        self, source: str, quarantine_id: str, claim_id: str, until: datetime, now: datetime
    ) -> None: ...
    def release(
        self, source: str, quarantine_id: str, claim_id: str, action: StaffAction | None
    ) -> None: ...
    def close(
        self,
        source: str,
        quarantine_id: str,
        closed: Closed,
        action: StaffAction,
        claim_id: str | None = None,
    ) -> None: ...


CLAIM_FOR: Final = timedelta(seconds=90)
"""A reprocess's lease on its entry: longer than any request (API Gateway gives up at 29 s,
the function at 30 s), so a live reprocess never loses it; a dead one frees it."""


class Redrives(Protocol):
    def redrive(self, queue: str, limit: int | None) -> int: ...


class ActionLog(Protocol):
    def append(self, action: StaffAction) -> None: ...


@dataclass(frozen=True)
class Reprocessed:
    entry: QuarantinedMessage
    outcome: Replayed


class OperatorActions:
    def __init__(
        self,
        entries: QuarantineEntries,
        replays: Mapping[str, Callable[[str], Replayed]],
        redrives: Redrives,
        log: ActionLog,
        clock: Clock,
    ) -> None:
        self._entries = entries
        self._replays = replays
        self._redrives = redrives
        self._log = log
        self._clock = clock

    def reprocess(self, entry_id: str, actor: Actor) -> Reprocessed:
        source, quarantine_id = _parse(entry_id)
        found = self._entries.read(source, quarantine_id, original=True)
        if found is None:
            raise _not_found(entry_id)
        entry, original = found
        _check_open(entry)
        replay = self._replays.get(source)
        if replay is None or original is None:
            raise Conflict(
                "this entry cannot be reprocessed (its source keeps no message to replay); "
                "discard it once handled",
                code="not_reprocessable",
                details=[{"source": source}],
            )
        claim = uuid.uuid4().hex
        started = self._clock()
        self._guarded(
            entry,
            lambda: self._entries.claim(source, quarantine_id, claim, started + CLAIM_FOR, started),
        )
        try:
            outcome = replay(original)
        except BaseException:
            self._entries.release(source, quarantine_id, claim, None)
            raise
        now = self._clock()
        action = new_action(
            actor, "quarantine.reprocess", _target(entry), now, {"outcome": outcome.view()}
        )
        if outcome.result == "refused":  # the entry stays open: the claim goes back
            self._entries.release(source, quarantine_id, claim, action)
            return Reprocessed(entry, outcome)
        closed = Closed(operations.REPROCESSED, actor.person_id, now, outcome=outcome.view())
        self._guarded(
            entry, lambda: self._entries.close(source, quarantine_id, closed, action, claim)
        )
        return Reprocessed(_closed(entry, closed), outcome)

    def discard(self, entry_id: str, note: str, actor: Actor) -> QuarantinedMessage:
        source, quarantine_id = _parse(entry_id)
        found = self._entries.read(source, quarantine_id)
        if found is None:
            raise _not_found(entry_id)
        entry = found[0]
        _check_open(entry)
        now = self._clock()
        closed = Closed(operations.DISCARDED, actor.person_id, now, note=note)
        action = new_action(actor, "quarantine.discard", _target(entry), now, {"note": note})
        self._guarded(entry, lambda: self._entries.close(source, quarantine_id, closed, action))
        return _closed(entry, closed)

    def redrive(self, queue: str, limit: int | None, actor: Actor) -> int:
        """Move a dead-letter queue's messages back to the queue they failed on."""
        try:
            moved = self._redrives.redrive(queue, limit)
        except operations.UnknownQueue as e:
            raise NotFound(f"no dead-letter queue named {queue}", code="queue_not_found") from e
        except operations.NotRedrivable as e:
            raise Conflict(str(e), code="not_redrivable", details=[{"queue": queue}]) from e
        except operations.RedriveRunning as e:
            raise Conflict(str(e), code="redrive_running", details=[{"queue": queue}]) from e
        self._log.append(
            new_action(
                actor, "queue.redrive", f"queue:{queue}", self._clock(),
                {"moved": moved, "max": limit},
            )
        )  # fmt: skip
        return moved

    @staticmethod
    def _guarded(entry: QuarantinedMessage, write: Callable[[], None]) -> None:
        """A conditional write on the entry, its refusals as the operator is told them."""
        try:
            write()
        except EntryClosed as e:
            raise _closed_conflict(e.status) from e
        except EntryBusy as e:
            raise Conflict(
                "the entry is being reprocessed by someone else; look again in a moment",
                code="entry_busy",
                details=[{"status": operations.OPEN}],
            ) from e
        except LookupError as e:
            raise _not_found(entry.entry_id) from e


def _parse(entry_id: str) -> tuple[str, str]:
    parsed = operations.parse_entry_id(entry_id)
    if parsed is None:
        raise _not_found(entry_id)
    return parsed


def _check_open(entry: QuarantinedMessage) -> None:
    if entry.status != operations.OPEN:
        raise _closed_conflict(entry.status)


def _closed_conflict(status: str) -> Conflict:
    return Conflict(
        f"the entry is already {status}", code="entry_closed", details=[{"status": status}]
    )


def _not_found(entry_id: str) -> NotFound:
    return NotFound("no such quarantine entry", code="quarantine_entry_not_found")


def _target(entry: QuarantinedMessage) -> str:
    return f"quarantine:{entry.source}/{entry.quarantine_id}"


def _closed(entry: QuarantinedMessage, closed: Closed) -> QuarantinedMessage:
    at: datetime = closed.at
    return replace(
        entry,
        status=closed.status,
        closed_at=at,
        closed_by=closed.by,
        note=closed.note,
        outcome=closed.outcome or None,
    )
