"""Operators hold a shelter's purifier by hand (DESIGN §4b "Purifier control"): an override
with an end, set and ended through the shelter's shadow, each step in the action log.

Every write is one transaction on the shelter's state item: the override (or its removal),
the shadow update as an outbox entry, and the action-log entry. The shadow is updated after
it; the delivered entry leaves the outbox only if no newer one replaced it, and the state
read back then says whether a racing writer (another operator, the air rule) changed the mode
in force meanwhile: if so it is sent again, so the last delivery always matches the last
write. A delivery that fails stays in the outbox: the health job sends it (FleetService).

Races end consistently: two operators' overrides, the last write wins (an override replaces
any other); an end is conditioned on the override it read, so an override set meanwhile is
never ended by mistake, and of a release and the expiry, one ends it and records it; the air
rule's transition is conditioned on the override as it saw it (FleetService._settle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from chalicelib.domain import purifier
from chalicelib.domain.air import Purifier
from chalicelib.domain.clock import Clock, iso
from chalicelib.domain.fleet import DeviceState, NotMet
from chalicelib.domain.purifier import Override, ShadowUnreachable
from chalicelib.domain.staff_actions import SYSTEM, Actor, StaffAction, new_action
from chalicelib.errors import NotFound, RetryableConflict

MAX_ATTEMPTS = 3


class PurifierStore(Protocol):
    def device(self, device_id: str) -> DeviceState | None: ...
    def devices(self, device_type: str, district: str | None = None) -> list[DeviceState]: ...
    def set_override(
        self, device_id: str, override: Override, action: StaffAction, now: datetime
    ) -> None: ...
    def end_override(
        self, device_id: str, override_id: str, mode: str, action: StaffAction, now: datetime
    ) -> None: ...
    def override_delivered(
        self, device_id: str, mode: str, now: datetime
    ) -> DeviceState | None: ...


class Shadows(Protocol):
    def desire_purifier(self, device_id: str, mode: str) -> None: ...


@dataclass(frozen=True)
class ExpiryReport:
    ended: list[str] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)


def target(device_id: str) -> str:
    return f"shelter:{device_id}"


class PurifierService:
    def __init__(self, store: PurifierStore, shadows: Shadows, clock: Clock) -> None:
        self._store = store
        self._shadows = shadows
        self._clock = clock

    def shelter(self, device_id: str) -> DeviceState:
        """A shelter's state, or a 404 (an unknown id, or a robot's)."""
        state = self._store.device(device_id)
        if state is None or state.device_type != "shelter":
            raise NotFound(f"no shelter {device_id[:128]!r}", code="shelter_not_found")
        return state

    def now(self) -> datetime:
        return self._clock()

    def override(self, device_id: str, mode: Purifier, minutes: int, actor: Actor) -> DeviceState:
        """Hold the purifier at `mode` for `minutes`, replacing any override (last writer
        wins): 2 DynamoDB requests (the transaction; the outbox cleanup, which reads the
        state back) and one shadow update."""
        now = self._clock()
        until = purifier.until(now, minutes)
        detail = {"mode": mode, "minutes": minutes, "until": iso(until)}
        action = new_action(actor, "purifier.override", target(device_id), now, detail)
        held = Override(action.action_id, mode, until, actor.person_id)
        try:
            self._store.set_override(device_id, held, action, now)
        except NotMet:
            raise NotFound(f"no shelter {device_id[:128]!r}", code="shelter_not_found") from None
        return self._send(device_id, mode, now)

    def release(self, device_id: str, actor: Actor) -> DeviceState:
        """End the override now and give the purifier back to automatic control. No
        override: nothing changes and nothing is recorded (a repeat is harmless)."""
        for _ in range(MAX_ATTEMPTS):
            state = self.shelter(device_id)
            if state.override is None:
                return state
            try:
                return self._end(state, actor, self._clock())
            except NotMet:
                continue  # another operator's override or end came first: judge again
        raise RetryableConflict(f"{device_id}: the override kept changing")

    def end_expired(self) -> ExpiryReport:
        """The health job: end every override whose time is up and put the automatic mode
        back, recorded as the system's (one Query for the city's shelters)."""
        now = self._clock()
        ended: list[str] = []
        failures: list[Exception] = []
        for state in self._store.devices("shelter"):
            if not purifier.expired(state, now):
                continue
            try:
                self._end(state, SYSTEM, now)
            except NotMet:
                continue  # an operator set a new override or released it meanwhile
            except Exception as e:  # one shelter's failure must not stop the others
                failures.append(e)
            else:
                ended.append(state.device_id)
        return ExpiryReport(ended, failures)

    def _end(self, state: DeviceState, actor: Actor, now: datetime) -> DeviceState:
        held = state.override
        assert held is not None
        mode = purifier.automatic(state)
        detail = {
            "mode": held.mode,
            "until": iso(held.until),
            "set_by": held.by,
            "ending": "released" if held.active(now) else "expired",
            "automatic": mode,
        }
        action = new_action(actor, "purifier.release", target(state.device_id), now, detail)
        self._store.end_override(state.device_id, held.override_id, mode, action, now)
        return self._send(state.device_id, mode, now)

    def _send(self, device_id: str, mode: Purifier, written_at: datetime) -> DeviceState:
        """Update the shadow, clear the outbox entry, and send again while the mode in force
        (read back) is not the one sent: a racing writer's delivery may have landed after
        ours. A failed update leaves the entry for the health job."""
        try:
            self._shadows.desire_purifier(device_id, mode)
            state = self._store.override_delivered(device_id, mode, written_at)
            for _ in range(MAX_ATTEMPTS):
                if state is None:
                    break
                wanted = purifier.in_force(state, self._clock())
                if wanted == mode:
                    return state
                mode = wanted
                self._shadows.desire_purifier(device_id, mode)
                state = self._store.device(device_id)
        except ShadowUnreachable:
            pass  # the outbox keeps it; the health job delivers it within two minutes
        return self.shelter(device_id)
