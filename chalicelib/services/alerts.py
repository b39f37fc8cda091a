"""Operators' alerts (DESIGN §4b): the list, one alert with its timeline, and the staff steps
(acknowledge, assign, comment, clear by hand), each recorded in the action log in the same
transaction as its change.

A step reads the alert, judges it (a repeated acknowledgement changes nothing; air and
offline clear themselves) and writes with a condition that only its own judgment needs; a
step that loses a race reads again and judges again, so no step is lost and none is applied
twice. The rules' own changes (raised, escalated, cleared by the system) are written by the
fleet (chalicelib.services.fleet), in the device's transition.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from chalicelib.domain import alerts
from chalicelib.domain.alerts import (
    ALERT_ID,
    Alert,
    AlertFilter,
    AlertNotFound,
    AlertPage,
    TimelineEntry,
    TimelineEvent,
)
from chalicelib.domain.clock import Clock
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.errors import RetryableConflict

MAX_ATTEMPTS = 4


class AlertStore(Protocol):
    def get(self, alert_id: str) -> Alert | None: ...
    def page(self, which: AlertFilter, limit: int, cursor: str | None = None) -> AlertPage: ...
    def acknowledge(self, alert_id: str, entry: TimelineEntry, action: StaffAction) -> None: ...
    def assign(
        self, alert_id: str, assignee: str | None, entry: TimelineEntry, action: StaffAction
    ) -> None: ...
    def comment(self, alert_id: str, entry: TimelineEntry, action: StaffAction) -> None: ...
    def clear_by_hand(self, alert: Alert, entry: TimelineEntry, action: StaffAction) -> None: ...


class AlertService:
    def __init__(self, store: AlertStore, clock: Clock, lost: type[Exception]) -> None:
        """`lost`: the store's exception for a step whose condition failed."""
        self._store = store
        self._clock = clock
        self._lost = lost

    def alert(self, alert_id: str) -> Alert:
        found = self._store.get(alert_id) if ALERT_ID.fullmatch(alert_id) else None
        if found is None:
            raise AlertNotFound(alert_id)
        return found

    def alerts(self, which: AlertFilter, limit: int, cursor: str | None) -> AlertPage:
        return self._store.page(which, limit, cursor)

    # ------------------------------------------------------------ staff steps

    def acknowledge(self, alert_id: str, actor: Actor, note: str | None) -> Alert:
        """Acknowledged once: a repeat answers the alert as it is and records nothing. A
        cleared alert may still be acknowledged (the device may clear it meanwhile)."""

        def step(alert: Alert, entry: TimelineEntry, action: StaffAction) -> Alert | None:
            if alert.acknowledged:
                return alert
            self._store.acknowledge(alert.alert_id, entry, action)
            return replace(
                alert,
                acknowledged=True,
                acknowledged_by=entry.by,
                acknowledged_at=entry.at,
                updated_at=entry.at,
                timeline=(*alert.timeline, entry),
            )

        detail = {"note": note} if note else {}
        return self._step(alert_id, actor, "acknowledged", "alert.acknowledge", note, detail, step)

    def assign(self, alert_id: str, actor: Actor, assignee: str | None) -> Alert:
        """To a staff member (None: nobody); the same assignee again changes nothing."""

        def step(alert: Alert, entry: TimelineEntry, action: StaffAction) -> Alert | None:
            if alert.assignee == assignee:
                return alert
            alerts.staff_room(alert, entry.note)
            self._store.assign(alert.alert_id, assignee, entry, action)
            return replace(
                alert, assignee=assignee, updated_at=entry.at, timeline=(*alert.timeline, entry)
            )

        note = f"assigned to {assignee}" if assignee else "unassigned"
        return self._step(
            alert_id, actor, "assigned", "alert.assign", note, {"assignee": assignee}, step
        )

    def comment(self, alert_id: str, actor: Actor, text: str) -> Alert:
        def step(alert: Alert, entry: TimelineEntry, action: StaffAction) -> Alert | None:
            alerts.staff_room(alert, entry.note)
            self._store.comment(alert.alert_id, entry, action)
            return replace(alert, updated_at=entry.at, timeline=(*alert.timeline, entry))

        return self._step(alert_id, actor, "commented", "alert.comment", text, {"text": text}, step)

    def clear(self, alert_id: str, actor: Actor, note: str) -> Alert:
        """By hand, after a site visit: only a fault or a full bin (409 `clears_itself` for
        air and offline; `already_cleared`). The device's episode closes with it, so the
        same condition reported again raises a new alert."""

        def step(alert: Alert, entry: TimelineEntry, action: StaffAction) -> Alert | None:
            alerts.clearable_by_hand(alert)
            self._store.clear_by_hand(alert, entry, action)
            return replace(
                alert,
                status="cleared",
                cleared_at=entry.at,
                updated_at=entry.at,
                timeline=(*alert.timeline, entry),
            )

        return self._step(alert_id, actor, "cleared", "alert.clear", note, {"note": note}, step)

    def _step(
        self,
        alert_id: str,
        actor: Actor,
        event: TimelineEvent,
        name: str,
        note: str | None,
        detail: dict[str, Any],
        step: Any,
    ) -> Alert:
        for _ in range(MAX_ATTEMPTS):
            alert = self.alert(alert_id)
            now = self._clock()
            entry = TimelineEntry(now, event, actor.person_id, note)
            action = new_action(
                actor,
                name,
                f"alert:{alert.alert_id}",
                now,
                {**detail, "device_id": alert.device_id, "kind": alert.kind},
            )
            try:
                done: Alert = step(alert, entry, action)
            except RetryableConflict:
                continue  # a transaction on the same alert at the same moment: again
            except self._lost:
                continue  # the alert moved since it was read: judge again
            return done
        raise RetryableConflict(f"alert {alert_id}: kept changing")
