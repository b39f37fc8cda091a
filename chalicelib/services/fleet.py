"""Shelters and robots (DESIGN §3-§5): devices' messages into their state, alerts to operators
once per episode, the purifier by shadow, the health job, and the fleet's views.

Every message goes the same way: typed at the edge (chalicelib.events.intake; a message
that cannot be believed is quarantined with its reason and counted on its device), applied
to the device's state only if it is newer than what is stored (a conditional write), then
the alert episodes decided from the state that write returned. A transition is recorded
with a condition (the alert as it was seen), its notices in the same write (an outbox on the
device's item); publishing follows, and the delivered notices leave the outbox. A crash
between the write and the publish leaves the notice in the outbox, and the health job
delivers it within a minute or two: an alert is never lost, and is sent twice only if the
crash falls between the publish and the outbox cleanup (the repeat carries the same
`alert_id`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

from chalicelib.domain import air, alerts, fleet, geo, purifier
from chalicelib.domain.air import AirAlert, HourMeans, Reading
from chalicelib.domain.alerts import AlertChange
from chalicelib.domain.clock import Clock
from chalicelib.domain.fleet import (
    CHANNEL_TYPES,
    DeviceState,
    DeviceType,
    Episodes,
    NoState,
    Notice,
    NotMet,
    OpenAlert,
    PendingNotice,
    Refused,
    Stale,
    Status,
)
from chalicelib.domain.geo import Placed
from chalicelib.domain.inbound import DeviceReport, Refusal
from chalicelib.errors import RetryableConflict
from chalicelib.services.ports import Quarantine

QUARANTINE_SOURCE: Final = "fleet"
# The health job delivers an outbox entry the writer has not cleared after this long (the
# writer normally clears it within a second; sooner would race it into a duplicate).
OUTBOX_GRACE = timedelta(seconds=60)
MAX_TRANSITION_ATTEMPTS = 3


class FleetStore(Protocol):
    def device(self, device_id: str) -> DeviceState | None: ...
    def devices(self, device_type: str, district: str | None = None) -> list[DeviceState]: ...
    def placed(
        self, device_type: str, ranges: Sequence[tuple[str, str]] | None
    ) -> list[Placed]: ...
    def states_of(self, device_ids: Sequence[str]) -> list[DeviceState]: ...
    def create_state(self, device_id: str, device_type: DeviceType) -> DeviceState | None: ...
    def apply_reading(self, device_id: str, reading: Reading, now: datetime) -> DeviceState: ...
    def apply_status(
        self, device_id: str, device_type: DeviceType, status: Status, now: datetime
    ) -> DeviceState: ...
    def apply_presence(
        self, device_id: str, order: int, online: bool, now: datetime
    ) -> DeviceState: ...
    def apply_shadow(
        self,
        device_id: str,
        *,
        version: int,
        reported: str | None,
        desired_seen: str | None,
        expect_seen: tuple[str | None, str | None],
        override_seen: str | None,
        reassert: str | None,
        now: datetime,
    ) -> DeviceState: ...
    def transition(
        self,
        device_id: str,
        *,
        guard: dict[tuple[str, ...], Any],
        opened: dict[str, OpenAlert],
        closed: tuple[str, ...],
        seen: dict[str, OpenAlert],
        air: tuple[AirAlert, AirAlert] | None,
        sets: dict[str, Any],
        notices: tuple[tuple[Notice, dict[str, Any]], ...],
        now: datetime,
        replaced: dict[str, OpenAlert] | None = None,
        changes: tuple[AlertChange, ...] = (),
    ) -> None: ...
    def delivered(self, device_id: str, keys: list[str]) -> None: ...
    def count(
        self, device_id: str, counter: str, *, only_if_not_accepting: bool = False
    ) -> bool: ...
    def record_air(self, device_id: str, reading: Reading) -> bool: ...
    def air_hours(self, device_id: str, first: datetime, last: datetime) -> list[HourMeans]: ...


class AlertPublisher(Protocol):
    def publish(self, message: dict[str, Any]) -> None: ...


class Shadows(Protocol):
    def desire_purifier(self, device_id: str, mode: str) -> None: ...


@dataclass(frozen=True)
class MessageOutcome:
    """What one device message did: `applied`, `stale` (older than the state: nothing
    changed), `quarantined` (with its reason) or `ignored` (not for the fleet)."""

    status: Literal["applied", "stale", "quarantined", "ignored"]
    reason: str | None = None
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class HealthReport:
    checked: int
    offline: int
    marked_offline: list[str] = field(default_factory=list)
    redelivered: int = 0


class FleetService:
    def __init__(
        self,
        store: FleetStore,
        alerts: AlertPublisher,
        shadows: Shadows,
        quarantine: Quarantine,
        clock: Clock,
        gauge: Any = None,
        silent_after: timedelta = fleet.SILENT_AFTER,
        air_clear_after: timedelta = air.CLEAR_AFTER,
    ) -> None:
        self.silent_after = silent_after
        self.air_clear_after = air_clear_after
        self._store = store
        self._alerts = alerts
        self._shadows = shadows
        self._quarantine = quarantine
        self._clock = clock
        self._gauge = gauge

    # ------------------------------------------------------------ device messages

    def receive(self, message: DeviceReport | Refusal) -> MessageOutcome:
        """One message a topic rule delivered, as the intake typed it (or refused it):
        `received_at` is when IoT Core received it (None: just now, for direct callers)."""
        if isinstance(message, Refusal):
            return self.refuse(message)
        now = self._clock()
        received = message.received_at or now
        device_id, channel, body = message.device_id, message.channel, message.body
        try:
            if isinstance(body, fleet.TelemetryMessage):
                return self._telemetry(device_id, body, received, now)
            if isinstance(body, fleet.StatusMessage):
                device_type = CHANNEL_TYPES[channel]
                assert device_type is not None
                return self._status(device_id, device_type, body, received, now)
            if isinstance(body, fleet.PresenceEvent):
                return self._presence(device_id, body, now)
            return self._shadow(device_id, body)
        except Refused as e:
            return self.refuse(Refusal(e.reason, device_id, e.details, message.text))
        except NoState:
            details = f"no registered device for {channel}"
            return self.refuse(Refusal("unknown_device", device_id, details, message.text))

    def refuse(self, refusal: Refusal) -> MessageOutcome:
        """Quarantine a message the city cannot believe, and count it on its device."""
        device_id = refusal.device_id
        if refusal.only_for is not None and (
            device_id is None or self.device(device_id, refusal.only_for) is None
        ):
            return MessageOutcome("ignored")  # another thing's shadow: not the fleet's
        self._quarantine.quarantine(
            source=QUARANTINE_SOURCE,
            reason=refusal.reason,
            device_id=device_id,
            event_id=None,
            details=refusal.details,
            payload=refusal.payload,
        )
        if device_id is not None and refusal.reason != "unknown_device":
            self._store.count(device_id, "quarantined")
        return MessageOutcome("quarantined", refusal.reason)

    def _apply(self, device_id: str, device_type: DeviceType, write: Any) -> DeviceState:
        """Apply a message's write; a device's first message creates its state row from the
        registry (NoState when it is not a registered device of this type)."""
        try:
            return write()
        except NoState:
            if self._store.create_state(device_id, device_type) is None:
                raise
            return write()

    def _telemetry(
        self,
        device_id: str,
        message: fleet.TelemetryMessage,
        received_at: datetime,
        now: datetime,
    ) -> MessageOutcome:
        reading = fleet.judge_reading(message, received_at)
        try:
            state = self._apply(
                device_id, "shelter", lambda: self._store.apply_reading(device_id, reading, now)
            )
        except Stale:
            self._store.record_air(device_id, reading)  # a late reading is still history
            return MessageOutcome("stale")
        self._store.record_air(device_id, reading)
        notices = self._settle(
            state, reading.ts, ("telemetry_ts",), {"offline": None}, grade=reading.grade
        )
        return MessageOutcome("applied", notices=notices)

    def _status(
        self,
        device_id: str,
        device_type: DeviceType,
        message: fleet.StatusMessage,
        received_at: datetime,
        now: datetime,
    ) -> MessageOutcome:
        status = fleet.judge_status(message, device_type, received_at)
        try:
            state = self._apply(
                device_id,
                device_type,
                lambda: self._store.apply_status(device_id, device_type, status, now),
            )
        except Stale:
            return MessageOutcome("stale")
        wanted: dict[fleet.AlertKind, str | None] = {}
        if device_type == "robot":
            wanted.update(fleet.robot_wanted(status))
        if status.online:
            wanted["offline"] = None
        notices = self._settle(state, status.ts, ("status_ts",), wanted)
        return MessageOutcome("applied", notices=notices)

    def _presence(
        self, device_id: str, event: fleet.PresenceEvent, now: datetime
    ) -> MessageOutcome:
        online = event.eventType == "connected"
        try:
            state = self._store.apply_presence(device_id, fleet.presence_order(event), online, now)
        except Stale:
            return MessageOutcome("stale")
        wanted: dict[fleet.AlertKind, str | None] = {"offline": None} if online else {}
        notices = self._settle(state, None, ("presence_order",), wanted)
        return MessageOutcome("applied", notices=notices)

    def _shadow(self, device_id: str, shadow: fleet.ShadowDocuments) -> MessageOutcome:
        """A shelter's shadow after an update: keep what it reports running, and when its
        desired purifier is not what the cloud decided, set the cloud's mode again (the
        cloud owns `desired`), once per divergence, from an outbox entry written with it."""
        state = self._store.device(device_id)
        if state is None or state.device_type != "shelter":
            return MessageOutcome("ignored")  # another thing's shadow: not the fleet's
        reported = shadow.reported_purifier
        if reported is not None and reported not in air.PURIFIER_MODES:
            raise Refused("invalid_payload", f"reported.purifier: {reported!r} is not a mode")
        version = shadow.current.version
        shown = shadow.desired_purifier
        for _ in range(MAX_TRANSITION_ATTEMPTS):
            if state.shadow_version is not None and state.shadow_version >= version:
                return MessageOutcome("stale")
            wanted = purifier.in_force(state, self._clock())  # an override's mode while held
            again = fleet.purifier_reassertion(wanted, shown, state.shadow_desired)
            try:
                state = self._store.apply_shadow(
                    device_id,
                    version=version,
                    reported=str(reported) if reported is not None else None,
                    desired_seen=shown,
                    expect_seen=(state.shadow_desired, state.purifier_desired),
                    override_seen=purifier.override_seen(state),
                    reassert=wanted if again else None,
                    now=self._clock(),
                )
            except Stale:
                return MessageOutcome("stale")
            except NotMet:  # another document or decision moved it: judge again
                fresh = self._store.device(device_id)
                if fresh is None:
                    raise NoState(device_id) from None
                state = fresh
                continue
            if again:
                # a failure here leaves the entry in the outbox: the health job sends it
                self._shadows.desire_purifier(device_id, wanted)
                self._store.delivered(device_id, [fleet.reassertion_key(version)])
            return MessageOutcome("applied")
        raise RetryableConflict(f"{device_id}: shadow version {version} kept moving")

    # ------------------------------------------------------------ alert episodes

    def _settle(
        self,
        state: DeviceState,
        ts: datetime | None,
        ts_path: tuple[str, ...],
        wanted: dict[fleet.AlertKind, str | None],
        grade: air.AirGrade | None = None,
    ) -> tuple[Notice, ...]:
        """Decide the episodes this message changes, from the state its write returned,
        and record them; the write is guarded by the message still being the newest, so
        a newer message processed meanwhile decides instead (from its own, newer state)."""
        for _ in range(MAX_TRANSITION_ATTEMPTS):
            now = self._clock()
            episodes = fleet.episode_changes(state.device_id, state.alerts, wanted, now)
            air_step = None
            if state.device_type == "shelter" and ts is not None and grade is not None:
                air_step = air.step(state.air_alert, grade, ts, self.air_clear_after)
            air_changed = air_step is not None and air_step.alert != state.air_alert
            if not episodes and not air_changed:
                return ()
            notices = list(episodes.notices)
            opened, closed = dict(episodes.opened), list(episodes.closed)
            replaced: dict[str, OpenAlert] = {}
            sets: dict[str, Any] = {}
            guard_value = _guard_value(state, ts_path)
            guard: dict[tuple[str, ...], Any] = {ts_path: guard_value}
            if air_step is not None and air_step.event is not None:
                # automatic control decides; an active override keeps the shadow (as seen)
                notice = self._air_notice(state, air_step, ts or now)
                notices.append(purifier.held_by_override(notice, state, now))
                if air_step.event != "escalated":
                    sets["purifier_desired"] = air.purifier_for(air_step.event)
                guard[("override", "id")] = purifier.override_seen(state)
                _air_episode(state, notice, opened, closed, replaced)
            messages = tuple((n, n.message(state.name, state.district)) for n in notices)
            try:
                self._store.transition(
                    state.device_id,
                    guard=guard,
                    opened=opened,
                    closed=tuple(closed),
                    seen=state.alerts,
                    air=(state.air_alert, air_step.alert) if air_changed and air_step else None,
                    sets=sets,
                    notices=messages,
                    now=now,
                    replaced=replaced,
                    changes=_alert_changes(state, opened, tuple(closed), replaced, notices, now),
                )
            except (NotMet, RetryableConflict):
                fresh = self._store.device(state.device_id)
                if fresh is None or _guard_value(fresh, ts_path) != guard_value:
                    return ()  # a newer message owns the decision now
                state = fresh
                continue
            self._deliver(state.device_id, messages)
            return tuple(notices)
        raise RetryableConflict(f"{state.device_id}: its alerts kept moving")

    def _air_notice(self, state: DeviceState, air_step: air.AirStep, at: datetime) -> Notice:
        assert air_step.event is not None
        if air_step.event == "cleared":
            episode = state.air_alert.episode or at.isoformat()
            seconds = int(self.air_clear_after.total_seconds())
            calm = f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"
            detail = f"air moderate or better for {calm} (worst was {state.air_alert.worst})"
            severity = alerts.air_severity(state.air_alert.worst)
        else:
            episode = air_step.alert.episode or at.isoformat()
            detail = f"air {air_step.alert.worst}: pm10 {state.pm10}, pm2.5 {state.pm25}"
            severity = alerts.air_severity(air_step.alert.worst)
        return Notice(
            alert_id=alerts.alert_id(state.device_id, "air", datetime.fromisoformat(episode)),
            device_id=state.device_id,
            kind="air",
            event=air_step.event,
            at=at,
            detail=detail,
            purifier=None if air_step.event == "escalated" else air.purifier_for(air_step.event),
            severity=severity,
        )

    def _deliver(self, device_id: str, notices: Iterable[tuple[Notice, dict[str, Any]]]) -> None:
        """Publish what a transition recorded, then take what was done out of the outbox
        (what failed stays there for the health job, and the failure is raised)."""
        done: list[str] = []
        try:
            for notice, message in notices:
                self._alerts.publish(message)
                done.append(notice.key)
                if notice.purifier is not None:
                    self._shadows.desire_purifier(device_id, notice.purifier)
                    done.append(f"{notice.key}#purifier")
        finally:
            self._store.delivered(device_id, done)

    def _redeliver(self, pending: PendingNotice) -> None:
        if pending.document.get("message") is not None:
            self._alerts.publish(pending.document["message"])
        if pending.document.get("purifier") is not None:
            self._shadows.desire_purifier(pending.device_id, pending.document["purifier"])
        self._store.delivered(pending.device_id, [pending.key])

    # ------------------------------------------------------------ robots' deposits

    def deposit_taken(self, device_id: str) -> bool:
        """A credited deposit from a robot: counted for operators when the robot had said
        it was not accepting (it took the items anyway, so the citizen is credited)."""
        return self._store.count(device_id, "deposits_not_accepting", only_if_not_accepting=True)

    # ------------------------------------------------------------ the health job

    def check_health(self) -> HealthReport:
        """Mark devices silent for 5 minutes offline, alerting once per silence; deliver
        notices a crashed writer left in the outbox; report how many devices are offline."""
        now = self._clock()
        checked = offline = 0
        marked: list[str] = []
        redelivered = 0
        failures: list[Exception] = []
        for device_type in ("shelter", "robot"):
            for state in self._store.devices(device_type):
                checked += 1
                for pending in state.outbox:
                    if now - pending.written_at < OUTBOX_GRACE:
                        continue
                    try:
                        self._redeliver(pending)
                    except Exception as e:  # one device's failure must not stop the job
                        failures.append(e)
                    else:
                        redelivered += 1
                if state.status(now, self.silent_after) == "offline":
                    offline += 1
                if state.last_seen is None or "offline" in state.alerts:
                    continue
                silent = now - state.last_seen >= self.silent_after
                if silent and self._mark_offline(state, now):
                    marked.append(state.device_id)
        if self._gauge is not None:
            self._gauge("OfflineDevices", offline)
        if failures:  # the rest was done; the function's error alarm tells operators
            raise failures[0]
        return HealthReport(checked, offline, marked, redelivered)

    def _mark_offline(self, state: DeviceState, now: datetime) -> bool:
        silent_for = int((now - state.last_seen).total_seconds()) if state.last_seen else 0
        episodes: Episodes = fleet.episode_changes(
            state.device_id, state.alerts, {"offline": f"silent for {silent_for} s"}, now
        )
        messages = tuple((n, n.message(state.name, state.district)) for n in episodes.notices)
        try:
            self._store.transition(
                state.device_id,
                guard={("last_seen",): state.last_seen},
                opened=dict(episodes.opened),
                closed=(),
                seen=state.alerts,
                air=None,
                sets={"online": False},
                notices=messages,
                now=now,
                changes=_alert_changes(state, dict(episodes.opened), (), {}, (), now),
            )
        except NotMet:
            return False  # it spoke meanwhile, or another run marked it
        except RetryableConflict:
            return False  # a transaction on its alert at the same moment: the next run
        self._deliver(state.device_id, messages)
        return True

    # ------------------------------------------------------------ views

    def device(self, device_id: str, device_type: DeviceType) -> DeviceState | None:
        state = self._store.device(device_id)
        return state if state is not None and state.device_type == device_type else None

    def devices(self, device_type: DeviceType, district: str | None = None) -> list[DeviceState]:
        return self._store.devices(device_type, district)

    def nearest(
        self, device_type: DeviceType, lat: float, lon: float, limit: int
    ) -> list[tuple[DeviceState, int]]:
        """The `limit` devices of a type nearest the point, nearest first, each with its
        distance in whole metres (chalicelib.domain.geo.nearest: at most 8 range Queries of
        the location index, then the whole index only for a point far from the fleet; then
        one BatchGetItem for the states)."""
        found = geo.nearest(lat, lon, limit, lambda r: self._store.placed(device_type, r))
        states = {s.device_id: s for s in self._store.states_of([n.device_id for n in found])}
        return [(states[n.device_id], round(n.distance_m)) for n in found if n.device_id in states]

    def air_history(self, device_id: str, hours: int) -> list[HourMeans]:
        now = self._clock()
        return self._store.air_hours(device_id, now - timedelta(hours=hours - 1), now)

    def now(self) -> datetime:
        return self._clock()


def _air_episode(
    state: DeviceState,
    notice: Notice,
    opened: dict[str, OpenAlert],
    closed: list[str],
    replaced: dict[str, OpenAlert],
) -> None:
    """The air alert's episode among the device's open alerts: opened with its alert,
    escalated in place, closed (an episode opened before alerts were items has none)."""
    current = state.alerts.get("air")
    if notice.event == "opened":
        opened["air"] = OpenAlert("air", notice.at, notice.detail, notice.alert_id, notice.severity)
    elif notice.event == "escalated" and current is not None:
        replaced["air"] = replace(current, severity=notice.severity, detail=notice.detail)
    elif notice.event == "cleared" and current is not None:
        closed.append("air")


def _alert_changes(
    state: DeviceState,
    opened: dict[str, OpenAlert],
    closed: tuple[str, ...],
    replaced: dict[str, OpenAlert],
    notices: Iterable[Notice],
    now: datetime,
) -> tuple[alerts.AlertChange, ...]:
    """The alert items a transition writes: one per episode raised, escalated or cleared."""
    said: dict[tuple[str, str], Notice] = {(n.kind, n.event): n for n in notices}
    changes: list[alerts.AlertChange] = []
    for kind, episode in opened.items():
        alert = alerts.raised(
            device_id=state.device_id,
            device_type=state.device_type,
            district=state.district,
            kind=kind,
            severity=episode.severity or "major",
            since=episode.since,
            detail=episode.detail,
            now=now,
        )
        changes.append(alerts.Raise(alert))
    for kind, episode in replaced.items():
        if episode.alert_id is not None:
            rose = said.get((kind, "escalated"))
            changes.append(
                alerts.Escalate(
                    episode.alert_id, episode.severity or "major", episode.detail,
                    rose.at if rose else now,
                )
            )  # fmt: skip
    for kind in closed:
        gone = state.alerts[kind]
        if gone.alert_id is not None:  # else an episode from before alerts were items
            over = said.get((kind, "cleared"))
            note = over.detail if over else f"{gone.detail}: cleared"
            changes.append(alerts.Clear(gone.alert_id, over.at if over else now, note))
    return tuple(changes)


def _guard_value(state: DeviceState, path: tuple[str, ...]) -> Any:
    name = path[0]
    if name == "telemetry_ts":
        return state.telemetry_ts
    if name == "status_ts":
        return state.status_ts
    if name == "presence_order":
        return state.presence_order
    raise KeyError(name)
