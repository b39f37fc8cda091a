"""Operators' alerts as items with a lifecycle (DESIGN §4b "Alerts (operator)").

Every condition the fleet rules raise (air bad or very bad, a full bin, a fault, a device
gone silent) is an alert: raised and cleared by the same rules that open and close the
device's episode, in the same write (chalicelib.adapters.dynamodb_fleet), so a replay or a
late message can neither raise it twice nor clear it twice. Staff acknowledge, assign,
comment on and (for what a device cannot clear itself: a fault, a full bin) clear it; each
step is an entry of its timeline, and each staff step an action of the action log.

Pure Python: the alert, its id, its severity, the timeline and the rules of the staff steps.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from chalicelib.errors import Conflict, NotFound, Unprocessable

AlertKind = Literal["air", "bin_full", "fault", "offline"]
KINDS: Final[tuple[str, ...]] = ("air", "bin_full", "fault", "offline")
Severity = Literal["critical", "major", "minor"]
SEVERITIES: Final[tuple[str, ...]] = ("critical", "major", "minor")
STATUSES: Final[tuple[str, ...]] = ("active", "cleared")
TimelineEvent = Literal["raised", "escalated", "acknowledged", "assigned", "commented", "cleared"]

CLEARED_BY_HAND: Final[frozenset[str]] = frozenset({"fault", "bin_full"})
"""What a person may clear after a site visit; air and offline clear themselves."""
SEVERITY_BY_KIND: Final[dict[str, Severity]] = {
    "fault": "major",  # the robot or shelter does not work as it should
    "offline": "major",  # the device is out of service until it is back
    "bin_full": "minor",  # the robot takes nothing until emptied; a round fixes it
}
"""Severities of the kinds DESIGN leaves open (air's follows its grade: air_severity)."""

MAX_TEXT: Final = 500
MAX_STAFF_ENTRIES: Final = 100
"""Assignments and comments an alert's timeline holds (the item stays far below DynamoDB's
400 KB; the system's own entries and the acknowledgement always fit)."""
MAX_STAFF_NOTE_BYTES: Final = 160_000
"""The UTF-8 bytes of the staff entries' notes an alert's timeline holds: 100 comments of
500 Korean characters (1,500 bytes each) fit; 500 four-byte characters (emoji, CJK
Extension B) fill it at 80. The item then stays below half of DynamoDB's 400 KB, which is
what moto (the local stack, the tests) can update: it counts an updated list twice, old
and new, against the limit, and answered a 500 near 98 such comments."""
_ID_TIME = "%Y%m%dT%H%M%SZ%f"
"""Letters between the digit runs: no run is long enough to read as a phone number (logs
and the outbox redact those: chalicelib.domain.phones.redact_phones)."""
ALERT_ID: Final = re.compile(
    r"[A-Za-z0-9_-]{1,128}\.(?:air|bin_full|fault|offline)\.[0-9]{8}T[0-9]{6}Z[0-9]{6}"
)
ASSIGNEE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
"""A staff member's id as their token names them (a Cognito `sub`, a dev login's name)."""


def alert_id(device_id: str, kind: str, since: datetime) -> str:
    """The id of a device's episode of `kind` that opened at `since`: the same episode always
    has the same id (a replayed raise is refused by it), and it reads as what it is."""
    return f"{device_id}.{kind}.{since.astimezone(UTC).strftime(_ID_TIME)}"


def air_severity(grade: str | None) -> Severity:
    """Air: `major` at bad, `critical` at very bad."""
    return "critical" if grade == "very_bad" else "major"


SEVERITY_RANK: Final[dict[str, int]] = {"minor": 0, "major": 1, "critical": 2}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    event: TimelineEvent
    by: str | None = None
    """The staff member's id; None for the system."""
    note: str | None = None


@dataclass(frozen=True)
class Alert:
    alert_id: str
    device_id: str
    device_type: str
    district: str
    kind: str
    severity: str
    status: str
    raised_at: datetime
    updated_at: datetime
    detail: str
    acknowledged: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    assignee: str | None = None
    cleared_at: datetime | None = None
    timeline: tuple[TimelineEntry, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "active"


# ---------------------------------------------------------------- what the rules change


@dataclass(frozen=True)
class Raise:
    """A new alert (its timeline starts with `raised`, by the system)."""

    alert: Alert


@dataclass(frozen=True)
class Escalate:
    """Air that got worse within its episode: the same alert, a higher severity."""

    alert_id: str
    severity: str
    detail: str
    at: datetime


@dataclass(frozen=True)
class Clear:
    """The condition is gone (the device said so, or the air stayed calm): cleared by the
    system."""

    alert_id: str
    at: datetime
    note: str | None = None


AlertChange = Raise | Escalate | Clear


def raised(
    *,
    device_id: str,
    device_type: str,
    district: str,
    kind: str,
    severity: str,
    since: datetime,
    detail: str,
    now: datetime,
) -> Alert:
    return Alert(
        alert_id=alert_id(device_id, kind, since),
        device_id=device_id,
        device_type=device_type,
        district=district,
        kind=kind,
        severity=severity,
        status="active",
        raised_at=since,
        updated_at=now,
        detail=detail,
        timeline=(TimelineEntry(since, "raised", None, detail),),
    )


# ---------------------------------------------------------------- staff steps


class AlertNotFound(NotFound):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"no alert {alert_id[:200]!r}", code="alert_not_found")


def clearable_by_hand(alert: Alert) -> None:
    """Only what a device cannot clear itself: a 409 `clears_itself` for air and offline,
    `already_cleared` for an alert that is no longer active."""
    if alert.kind not in CLEARED_BY_HAND:
        raise Conflict(
            f"a {alert.kind} alert clears itself when the device reports it is over",
            code="clears_itself",
        )
    if not alert.active:
        raise Conflict(
            "the alert is already cleared",
            code="already_cleared",
            details=[{"cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None}],
        )


def staff_room(alert: Alert, note: str | None = None) -> None:
    """A 409 `timeline_full` once the timeline holds MAX_STAFF_ENTRIES staff entries, or
    when `note` would take their notes past MAX_STAFF_NOTE_BYTES."""
    staff = [e for e in alert.timeline if e.event in ("assigned", "commented")]
    if len(staff) >= MAX_STAFF_ENTRIES:
        raise Conflict(
            f"the alert's timeline holds {MAX_STAFF_ENTRIES} assignments and comments already",
            code="timeline_full",
        )
    held = sum(len((e.note or "").encode("utf-8")) for e in staff)
    if held + len((note or "").encode("utf-8")) > MAX_STAFF_NOTE_BYTES:
        raise Conflict(
            f"the alert's timeline holds {held} bytes of comments; add a shorter one",
            code="timeline_full",
            details=[{"held_bytes": held, "max_bytes": MAX_STAFF_NOTE_BYTES}],
        )


_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def optional_text(value: str | None, name: str) -> str | None:
    """An optional note: None when absent or blank, else as `text`."""
    if value is None or not value.strip():
        return None
    return text(value, name)


def text(value: str, name: str) -> str:
    """A note or comment as people type it: 1-500 characters after trimming, line breaks
    allowed; control, format (bidi overrides, zero-width), private-use and unassigned
    characters refused (a 422 naming the first, and where)."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise Unprocessable(
            f"{name} must not be empty",
            code="validation_failed",
            details=[{"field": name, "problem": "empty"}],
        )
    if len(value) > MAX_TEXT:
        raise Unprocessable(
            f"{name} is longer than {MAX_TEXT} characters",
            code="validation_failed",
            details=[{"field": name, "problem": f"at most {MAX_TEXT} characters"}],
        )
    for i, char in enumerate(value):
        if char in "\n\t":
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise Unprocessable(
                f"{name} has a control or invisible character at {i + 1}: U+{ord(char):04X}",
                code="invalid_characters",
                details=[{"field": name, "position": i + 1, "code_point": f"U+{ord(char):04X}"}],
            )
    return value


# ---------------------------------------------------------------- the list


@dataclass(frozen=True)
class AlertFilter:
    status: Literal["active", "cleared", "all"] = "active"
    acknowledged: bool | None = None
    kind: str | None = None
    severity: str | None = None
    district: str | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert] = field(default_factory=list)
    next_cursor: str | None = None
