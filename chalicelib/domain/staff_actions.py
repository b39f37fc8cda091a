"""The staff action log (DESIGN §4b): every staff write, appended once, never changed.

An action names who did it (the person's id and the staff roles they held), what they did
(`alert.acknowledge`, `payout_run.approve`, ...), to what (`alert:<id>`, `run:<id>`,
`citizen:<id>`) and a small detail. Where the action is a DynamoDB write, its entry is a
Put in the same transaction (adapters.dynamodb_staff_actions.put_in), so neither exists
without the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from chalicelib.domain.ids import sortable_id

RETENTION: Final = timedelta(days=5 * 366)
"""Kept 5 years (the TTL is set past that; nothing deletes one sooner)."""
MAX_TARGET: Final = 200


@dataclass(frozen=True)
class Actor:
    """A staff member acting: their id and the staff roles their token held."""

    person_id: str
    roles: tuple[str, ...]


SYSTEM: Final = Actor("system", ())
"""The schedules and rules: they act under no person's name."""


@dataclass(frozen=True)
class StaffAction:
    action_id: str
    at: datetime
    actor: str
    roles: tuple[str, ...]
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


def new_action(
    actor: Actor, action: str, target: str, at: datetime, detail: dict[str, Any] | None = None
) -> StaffAction:
    """An action at `at`; its id sorts by time (newest first is a reverse Query)."""
    return StaffAction(
        action_id=sortable_id(at),
        at=at,
        actor=actor.person_id,
        roles=actor.roles,
        action=action,
        target=target[:MAX_TARGET],
        detail=dict(detail or {}),
    )


@dataclass(frozen=True)
class ActionFilter:
    actor: str | None = None
    target: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class ActionPage:
    actions: list[StaffAction]
    next_cursor: str | None
