"""A deposit typed by a person (the robot agent's stdin or its local port), one per line:

    phone 010-1234-5678 can=3 pet=2
    code 482913 can=1/2            (1 accepted, 2 rejected)
    {"citizen": {"code": "482913"}, "items": [{"material": "can", "accepted": 3, "rejected": 0}]}

A short line is `phone NUMBER` or `code DIGITS`, then `MATERIAL=ACCEPTED[/REJECTED]` for each
material, and optionally `at=RFC3339` (when it happened) and `id=EVENT_ID`. A JSON line is a
deposit as DESIGN §3 has it; `event_id` and `occurred_at` are added when missing. The robot
checks the form only: who the citizen is, the materials and the limits are the cloud's to
judge (its ack says why it refused). What the cloud could not even read (a line that is
not JSON it takes, an `event_id` or `occurred_at` of the wrong form) is refused here: its
rejection could not name the event, so the robot would resend it forever.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

_MATERIAL = re.compile(r"[a-z][a-z0-9_]{0,31}")
_COUNT = re.compile(r"(\d{1,4})(?:/(\d{1,4}))?")
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_LINE = 128 * 1024
"""A deposit is a payload of at most 128 KB (DESIGN §3); a longer line is not one."""


class DepositLineError(ValueError):
    """The line is not a deposit; the message says what is wrong."""


@dataclass(frozen=True)
class TypedDeposit:
    citizen: dict[str, str]
    items: list[dict[str, Any]]
    occurred_at: str | None = None
    event_id: str | None = None


def parse_deposit_line(text: str) -> TypedDeposit | None:
    """The deposit on one line; None for a blank line or a `#` comment."""
    if len(text) > MAX_LINE:
        raise DepositLineError(f"the line is over {MAX_LINE // 1024} KB: not a deposit")
    text = text.strip().removeprefix("\ufeff")
    if not text or text.startswith("#"):
        return None
    if text.startswith("{"):
        return _from_json(text)
    return _from_words(text.split())


def _from_words(words: list[str]) -> TypedDeposit:
    if len(words) < 2 or words[0] not in ("phone", "code"):
        raise DepositLineError(
            "a deposit starts with `phone NUMBER` or `code DIGITS`, "
            "e.g. `phone 010-1234-5678 can=3 pet=2`"
        )
    citizen = {words[0]: words[1]}
    items: dict[str, dict[str, Any]] = {}
    occurred_at = event_id = None
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if not sep or not value:
            raise DepositLineError(f"{word!r}: expected MATERIAL=COUNT, at=TIME or id=EVENT_ID")
        if key == "at":
            occurred_at = _time(value)
        elif key == "id":
            event_id = _event_id(value)
        else:
            if not _MATERIAL.fullmatch(key):
                raise DepositLineError(f"{key!r} is not a material name (e.g. can, pet)")
            if key in items:
                raise DepositLineError(f"{key} is given twice")
            count = _COUNT.fullmatch(value) if value.isascii() else None
            if count is None:
                raise DepositLineError(
                    f"{word!r}: a count is ACCEPTED or ACCEPTED/REJECTED (whole numbers)"
                )
            accepted, rejected = int(count.group(1)), int(count.group(2) or 0)
            items[key] = {"material": key, "accepted": accepted, "rejected": rejected}
    if not items:
        raise DepositLineError("no items: add e.g. can=3 pet=2")
    return TypedDeposit(citizen, list(items.values()), occurred_at, event_id)


def _from_json(text: str) -> TypedDeposit:
    from chalicelib.domain import json_limits

    try:
        doc = json_limits.loads(text, max_bytes=MAX_LINE)
    except json_limits.JsonRejected as e:
        raise DepositLineError(f"not JSON the cloud takes: {e}") from None
    if not isinstance(doc, dict):
        raise DepositLineError("a JSON deposit is an object")
    citizen, items = doc.get("citizen"), doc.get("items")
    if not isinstance(citizen, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in citizen.items()
    ):
        raise DepositLineError('"citizen" is an object, e.g. {"phone": "010-1234-5678"}')
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise DepositLineError('"items" is a list of {"material", "accepted", "rejected"}')
    occurred_at = doc.get("occurred_at")
    event_id = doc.get("event_id")
    if occurred_at is not None:
        if not isinstance(occurred_at, str):
            raise DepositLineError('"occurred_at" is an RFC 3339 time')
        _time(occurred_at)
    if event_id is not None:
        if not isinstance(event_id, str):
            raise DepositLineError('"event_id" is a string')
        _event_id(event_id)
    return TypedDeposit(citizen, items, occurred_at, event_id)


def _time(value: str) -> str:
    if not value.isascii():  # fromisoformat takes digits of other scripts; RFC 3339 does not
        raise DepositLineError(f"at={value}: not an RFC 3339 time")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise DepositLineError(f"at={value}: not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise DepositLineError(f"at={value}: give the offset, e.g. +09:00")
    return value


def is_event_id(value: str) -> bool:
    """8-64 characters of A-Z a-z 0-9 _ - (DESIGN §3)."""
    return _EVENT_ID.fullmatch(value) is not None


def _event_id(value: str) -> str:
    if not _EVENT_ID.fullmatch(value):
        raise DepositLineError(f"id={value}: 8-64 characters of A-Z a-z 0-9 _ -")
    return value
