"""What operators watch and act on: refused device messages and parked failures
(DESIGN §4b, §6 inv. 5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

QuarantineStatus = Literal["open", "reprocessed", "discarded"]
QuarantineSource = Literal["deposits", "fleet", "rule-errors"]
QUARANTINE_SOURCES: Final[tuple[QuarantineSource, ...]] = ("deposits", "fleet", "rule-errors")
"""Who quarantines: the deposits handler, the fleet's handlers (shelter and robot messages,
shadows, presence) and the topic rules' error action. `GET /v1/admin/quarantine?source=`
takes one of these."""
OPEN: Final = "open"
REPROCESSED: Final = "reprocessed"
DISCARDED: Final = "discarded"

REPROCESSABLE: Final = frozenset({"deposits"})
"""Sources whose entries keep the message as it arrived (sealed) and can be sent through
their handler again. A fleet report is a snapshot the device's next one (within a minute)
supersedes, and a rule error has no handler of its own: those are discarded, not replayed."""

_ENTRY_ID: Final = re.compile(r"(?P<source>[a-z0-9][a-z0-9-]{0,63}):(?P<id>[0-9A-HJKMNP-TV-Z]{26})")
MAX_NOTE: Final = 500


def entry_id(source: str, quarantine_id: str) -> str:
    """An entry's id names its source: `deposits:01JD3Q8Z6R4T2V9X0B7C5N1M8K`."""
    return f"{source}:{quarantine_id}"


def parse_entry_id(value: str) -> tuple[str, str] | None:
    """(source, quarantine id) of a well-formed entry id, else None (it names nothing)."""
    found = _ENTRY_ID.fullmatch(value)
    return (found["source"], found["id"]) if found else None


@dataclass(frozen=True)
class QuarantinedMessage:
    source: str
    quarantine_id: str
    reason: str
    device_id: str | None
    event_id: str | None
    details: str | None
    payload: str | None
    received_at: datetime
    status: QuarantineStatus = "open"
    closed_at: datetime | None = None
    closed_by: str | None = None
    note: str | None = None
    outcome: dict[str, Any] | None = None
    reprocessable: bool = False
    """It keeps the message as it arrived (sealed), and its source has a handler to replay."""

    @property
    def entry_id(self) -> str:
        return entry_id(self.source, self.quarantine_id)


@dataclass(frozen=True)
class Replayed:
    """What a message sent through its handler again did: `credited`, `duplicate`
    (credited before: nothing again), `rejected` (final, recorded: DESIGN §3) or
    `refused` (still cannot be processed: its entry stays open)."""

    result: Literal["credited", "duplicate", "rejected", "refused"]
    reason: str | None = None
    points: int | None = None
    details: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "reason": self.reason,
            "points": self.points,
            "details": self.details,
        }


@dataclass(frozen=True)
class Closed:
    """An entry's status change, for its action log entry: who, when, why."""

    status: QuarantineStatus
    by: str
    at: datetime
    note: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)


class EntryBusy(Exception):
    """Another reprocess of the entry is running (its claim has not expired)."""


class EntryClosed(Exception):
    """The entry is no longer open (someone else reprocessed or discarded it)."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the entry is {status}")
        self.status = status


@dataclass(frozen=True)
class QuarantinePage:
    items: list[QuarantinedMessage]
    next_cursor: str | None


@dataclass(frozen=True)
class ParkedMessages:
    """How many messages a dead-letter or on-failure queue holds for one consumer."""

    consumer: str
    queue: str
    kind: Literal["dead_letter", "stream_failures"]
    messages: int
    in_flight: int


MAX_REDRIVE: Final = 500
"""The most messages one bounded redrive (`max`) moves in a request; without `max`, SQS's
move task moves the whole queue in the background."""


class UnknownQueue(Exception):
    """No dead-letter or on-failure queue of the app has this name."""


class NotRedrivable(Exception):
    """The queue's messages cannot be moved back (a stream's on-failure queue)."""


class RedriveRunning(Exception):
    """A move task is already running on the queue (SQS allows one at a time)."""
