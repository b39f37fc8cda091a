"""A shelter's purifier held by hand (DESIGN §4b "Purifier control"): an operator's override
of the cloud's automatic mode (high while the air is bad, auto after), with an end.

Pure Python. The override lives on the shelter's state item beside the automatic decision
(`purifier_desired`), which the air rule keeps deciding while the override holds: when the
override ends (released, or expired) the automatic mode is known at once. An override is in
force while `now < until`; the health job ends it on the store within a minute after. Every
spot that sends a mode to the shadow asks `in_force` (or `held_by_override` for the air
rule's notice), so automatic control never overwrites an active override.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from chalicelib.domain.air import Purifier
from chalicelib.domain.fleet import DeviceState, Notice, Override

MIN_MINUTES: Final = 1
MAX_MINUTES: Final = 1440
OUTBOX_KEY: Final = "purifier#override"
"""The outbox entry of an override's (or its end's) shadow update: one key, so a newer
override or end replaces a pending older one and the health job never sends a stale mode."""


class PurifierOverrideRequest(BaseModel):
    """`PUT /v1/admin/shelters/{id}/purifier`: a mode exactly as spelled, whole minutes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["auto", "high", "off"]
    minutes: Annotated[StrictInt, Field(ge=MIN_MINUTES, le=MAX_MINUTES)]


class ShadowUnreachable(Exception):
    """The IoT data plane did not take a shadow update (the outbox keeps it for the health
    job): an adapter raises it for whatever its transport failed with."""


def until(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)


def automatic(state: DeviceState) -> Purifier:
    """What automatic control wants: what the air rule last decided, auto when it never had
    to decide."""
    decided = state.purifier_desired
    return decided if decided in ("auto", "high", "off") else "auto"  # type: ignore[return-value]


def active_override(state: DeviceState, now: datetime) -> Override | None:
    override = state.override
    return override if override is not None and override.active(now) else None


def in_force(state: DeviceState, now: datetime) -> Purifier:
    """The mode the shadow should desire now: an active override's, else automatic."""
    override = active_override(state, now)
    return override.mode if override is not None else automatic(state)


def held_by_override(notice: Notice, state: DeviceState, now: datetime) -> Notice:
    """The air rule's notice as sent: while an override holds the purifier, without its
    shadow update (the alert still goes; the decision is kept for when the override ends)."""
    if notice.purifier is None or active_override(state, now) is None:
        return notice
    return replace(notice, purifier=None)


def override_seen(state: DeviceState) -> str | None:
    """The stored override a write is conditioned on (None: none stored)."""
    return state.override.override_id if state.override is not None else None


def expired(state: DeviceState, now: datetime) -> bool:
    """Whether the stored override has run out and is waiting for the health job to end it."""
    return state.override is not None and not state.override.active(now)
