"""DynamoDB adapter for the fleet's state (`device-states`) and the shelters' air history
(`air-hours`), the tables of chalicelib.adapters.dynamodb_models.DeviceState and AirHour.

Every write is a PynamoDB update with a condition: a message's state write holds only if
the message is newer than the stored one (`telemetry_ts < ts`); an alert transition only if
the alert is still as the service saw it. One item per device holds everything its API view
shows, so a device's state is one GetItem and a city's list one Query of the `by-group`
index. Times are stored as every model stores them (UTCDateTimeAttribute: fixed width, so
they sort as the instants do), also inside the alert map and the outbox documents.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb_alerts import clear_in, escalate_in, raise_in
from chalicelib.adapters.dynamodb_models import AirHour, Device, DeviceState, FleetTime
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain.air import AirAlert, AirGrade, HourMeans, Reading
from chalicelib.domain.alerts import AlertChange, Escalate, Raise
from chalicelib.domain.fleet import DeviceState as State
from chalicelib.domain.fleet import (
    DeviceType,
    NoState,
    Notice,
    NotMet,
    OpenAlert,
    PendingNotice,
    Stale,
    Status,
    reassertion_key,
)
from chalicelib.domain.geo import Placed, geohash
from chalicelib.domain.purifier import OUTBOX_KEY, Override
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.errors import RetryableConflict

AIR_RETENTION = timedelta(days=30)
STATE_FIELDS = {"telemetry": "telemetry_ts", "status": "status_ts"}

_TIME = FleetTime()


def _t(moment: datetime) -> str:
    """A time inside a map or a JSON document, as UTCDateTimeAttribute writes a top-level one."""
    return str(_TIME.serialize(moment.astimezone(UTC)))


def _spellings(moment: datetime) -> tuple[str, str]:
    """The time as written now, and as the fleet's items spelled it before (FleetTime)."""
    return _t(moment), moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_t(text: str) -> datetime:
    return _TIME.deserialize(text)


def _path(path: tuple[str, ...]) -> Path:
    """A document path in a state item: its attribute, then keys into its map."""
    head, *keys = path
    target = Path(getattr(DeviceState, head))
    for key in keys:
        target = target[key]
    return target


def _set(path: tuple[str, ...], value: Any) -> Action:
    """Set the attribute; None removes it (a state keeps no nulls)."""
    target = _path(path)
    return target.remove() if value is None else target.set(value)


def _expect(path: tuple[str, ...], value: Any) -> Condition:
    """The attribute holds this value (None: it is absent; a time: in either spelling)."""
    if isinstance(value, datetime):
        return Path(list(path)).is_in(*_spellings(value))
    target = _path(path)
    return target.does_not_exist() if value is None else target == value


def _all(conditions: Sequence[Condition]) -> Condition | None:
    joined: Condition | None = None
    for condition in conditions:
        joined = condition if joined is None else joined & condition
    return joined


# ---------------------------------------------------------------- state from items


def state_from_row(row: DeviceState) -> State:
    alerts = {
        kind: OpenAlert(
            kind,
            _parse_t(a["since"]),
            str(a.get("detail", "")),
            a.get("alert_id"),
            a.get("severity"),
        )
        for kind, a in _plain(row.alerts).items()
    }
    bins = _plain(row.bins) if row.bins is not None else None
    return State(
        device_id=row.device_id,
        device_type=row.device_type,  # type: ignore[arg-type]
        name=row.name,
        district=row.district,
        lat=float(row.lat),
        lon=float(row.lon),
        online=bool(row.online),
        last_seen=row.last_seen,
        pm10=row.pm10,
        pm25=row.pm25,
        grade=AirGrade(row.grade) if row.grade else None,
        air_at=row.air_at,
        temp_c=row.temp_c,
        humidity=row.humidity,
        co2_ppm=row.co2_ppm,
        occupancy=_whole(row.occupancy),
        chargers_total=_whole(row.chargers_total),
        chargers_in_use=_whole(row.chargers_in_use),
        bins={k: float(v) for k, v in bins.items()} if bins else None,
        fault=row.fault,
        fw=row.fw,
        accepting=True if row.accepting is None else bool(row.accepting),
        purifier_reported=row.purifier_reported,
        purifier_desired=row.purifier_desired,
        shadow_desired=row.shadow_desired,
        shadow_version=_whole(row.shadow_version),
        override=_override(row.override),
        alerts=alerts,
        air_alert=AirAlert(
            episode=row.air_episode,
            worst=AirGrade(row.air_worst) if row.air_worst else None,
            calm_since=row.air_calm_since,
        ),
        telemetry_ts=row.telemetry_ts,
        status_ts=row.status_ts,
        presence_order=_whole(row.presence_order),
        quarantined=int(row.quarantined or 0),
        deposits_not_accepting=int(row.deposits_not_accepting or 0),
        outbox=tuple(
            _pending(row.device_id, key, json.loads(text))
            for key, text in _plain(row.outbox).items()
        ),
    )


def _episode(alert: OpenAlert) -> dict[str, Any]:
    """An open episode in the state's `alerts` map: what the device views show of it."""
    episode = {"since": _t(alert.since), "detail": alert.detail}
    if alert.alert_id is not None:
        episode.update(alert_id=alert.alert_id, severity=alert.severity or "major")
    return episode


def _whole(number: float | None) -> int | None:
    return None if number is None else int(number)


def _plain(value: Any) -> dict[Any, Any]:
    """A raw map attribute's content as a dict (PynamoDB may hand back its own container)."""
    if value is None:
        return {}
    if hasattr(value, "as_dict"):
        return dict(value.as_dict())
    return dict(value)


def _override(value: Any) -> Override | None:
    held = _plain(value)
    if not held:
        return None
    return Override(str(held["id"]), held["mode"], _parse_t(held["until"]), str(held["by"]))


def _override_entry(mode: str, now: datetime) -> str:
    """The outbox entry of an override's shadow update, as written (and compared on removal)."""
    return json.dumps({"purifier": mode, "written_at": _t(now)})


def _pending(device_id: str, key: str, document: dict[str, Any]) -> PendingNotice:
    return PendingNotice(device_id, key, document, _parse_t(document["written_at"]))


# ---------------------------------------------------------------- the store


class DynamoDbFleet:
    def __init__(self, city: str) -> None:
        self._city = city

    def group(self, device_type: str) -> str:
        return f"{self._city}#{device_type}"

    # -- reads

    def device(self, device_id: str) -> State | None:
        try:
            return state_from_row(DeviceState.get(device_id))
        except DeviceState.DoesNotExist:
            return None

    def devices(self, device_type: str, district: str | None = None) -> list[State]:
        """Every device of a type in the city (or a district), sorted by district and id:
        one Query per MB of states (500 shelters are about 300 KB: one request)."""
        place = None if district is None else DeviceState.place.startswith(district + "#")
        rows = DeviceState.by_group.query(self.group(device_type), place)
        return [state_from_row(row) for row in rows]

    def placed(self, device_type: str, ranges: Sequence[tuple[str, str]] | None) -> list[Placed]:
        """Where the devices of a type in these geohash ranges are (`by-geo`: one Query per
        range, ~80 bytes a device); `None`: every device of the type (one Query per MB)."""
        group = self.group(device_type)
        queries = (
            [DeviceState.by_geo.query(group)]
            if ranges is None
            else [
                DeviceState.by_geo.query(group, DeviceState.geohash.between(first, last + "~"))
                for first, last in ranges  # "~" sorts after every cell's sub-cells
            ]
        )
        return [
            Placed(row.device_id, float(row.lat), float(row.lon))
            for rows in queries
            for row in rows
        ]

    def index_locations(self, device_type: str) -> int:
        """The backfill of `by-geo`: give each state row of the type whose `geohash` is
        missing (a row from before the index) or does not match its location its cell, each
        write conditional on the location it was computed from. One Query of `by-group`
        (the list's) and one UpdateItem per row that needs it; how many were written."""
        written = 0
        for row in DeviceState.by_group.query(self.group(device_type)):
            cell = geohash(float(row.lat), float(row.lon))
            if row.geohash == cell:
                continue
            with contextlib.suppress(NotMet):  # moved meanwhile: its move wrote its cell
                self._update(
                    row.device_id,
                    [DeviceState.geohash.set(cell)],
                    [DeviceState.lat == row.lat, DeviceState.lon == row.lon],
                )
                written += 1
        return written

    def states_of(self, device_ids: Sequence[str]) -> list[State]:
        """These devices' states, in this order (one BatchGetItem per 100; a device gone
        meanwhile is left out)."""
        found = {
            row.device_id: row for row in DeviceState.batch_get(list(dict.fromkeys(device_ids)))
        }
        return [state_from_row(found[d]) for d in device_ids if d in found]

    # -- the state row

    def create_state(self, device_id: str, device_type: DeviceType) -> State | None:
        """The state row of a registered device that never reported: from the registry.
        None when no registered device of this type has the id."""
        try:
            registered = Device.get(device_id)
        except Device.DoesNotExist:
            return None
        if registered.device_type != device_type:
            return None
        row = DeviceState(
            device_id,
            device_type=device_type,
            fleet_group=self.group(device_type),
            place=f"{registered.district}#{device_id}",
            name=registered.name,
            district=registered.district,
            lat=float(registered.lat),
            lon=float(registered.lon),
            geohash=geohash(float(registered.lat), float(registered.lon)),
            online=False,
            accepting=True,
            alerts={},
            outbox={},
        )
        try:
            row.save(condition=DeviceState.device_id.does_not_exist())
        except PutError as e:
            if not condition_failed(e):
                raise
            self._place(row)
        return self.device(device_id)

    def _place(self, registered: DeviceState) -> None:
        """A device provisioned again (renamed, moved): its kept state row takes the new
        name, district and location (its geohash with it: the `by-geo` index follows in
        the same write; a row from before that index gets its geohash here); what it
        reported stays."""
        fields = ("name", "district", "lat", "lon", "place", "geohash")
        try:
            stored = DeviceState.get(registered.device_id)
        except DeviceState.DoesNotExist:
            return
        if stored.device_type != registered.device_type or all(
            getattr(stored, f) == getattr(registered, f) for f in fields
        ):
            return
        actions = [getattr(DeviceState, f).set(getattr(registered, f)) for f in fields]
        with contextlib.suppress(NotMet):
            self._update(
                registered.device_id,
                actions,
                [DeviceState.device_type == registered.device_type],
            )

    def _update(
        self, device_id: str, actions: Sequence[Action], conditions: Sequence[Condition]
    ) -> State:
        row = DeviceState(device_id)
        try:
            row.update(actions=list(actions), condition=_all(conditions))
        except UpdateError as e:
            if condition_failed(e):
                raise NotMet() from e
            raise
        return state_from_row(row)

    def _message_update(
        self,
        device_id: str,
        device_type: DeviceType,
        ts_field: str,
        ts: datetime,
        actions: Sequence[Action],
    ) -> State:
        """Apply a device message's changes if its `ts` is newer than the stored one."""
        stamp = getattr(DeviceState, ts_field)
        conditions = [
            DeviceState.device_type == device_type,
            stamp.does_not_exist() | (stamp < ts),
        ]
        try:
            return self._update(device_id, [*actions, stamp.set(ts)], conditions)
        except NotMet:
            current = self.device(device_id)
            if current is None or current.device_type != device_type:
                raise NoState(device_id) from None
            raise Stale(device_id) from None

    def apply_reading(self, device_id: str, reading: Reading, now: datetime) -> State:
        actions: list[Action] = [DeviceState.online.set(True), DeviceState.last_seen.set(now)]
        values: dict[str, Any] = {
            "temp_c": reading.temp_c,
            "humidity": reading.humidity,
            "co2_ppm": reading.co2_ppm,
            "occupancy": reading.occupancy,
            "chargers_total": reading.chargers_total,
            "chargers_in_use": reading.chargers_in_use,
        }
        if reading.pm10 is not None or reading.pm25 is not None:
            grade = reading.grade
            values.update(
                pm10=reading.pm10,
                pm25=reading.pm25,
                grade=grade.value if grade else None,
                air_at=reading.ts,
            )
        for name, value in values.items():
            if value is not None:  # a reading left out keeps the last one
                actions.append(_set((name,), value))
        return self._message_update(device_id, "shelter", "telemetry_ts", reading.ts, actions)

    def apply_status(
        self, device_id: str, device_type: DeviceType, status: Status, now: datetime
    ) -> State:
        actions: list[Action] = [DeviceState.online.set(status.online)]
        if not status.is_will:
            actions += [DeviceState.last_seen.set(now), _set(("fault",), status.fault)]
            if status.fw is not None:
                actions.append(DeviceState.fw.set(status.fw))
            if status.bins is not None:
                actions.append(DeviceState.bins.set(status.bins))
                actions.append(_set(("accepting",), status.accepting))
        return self._message_update(device_id, device_type, "status_ts", status.ts, actions)

    def apply_presence(self, device_id: str, order: int, online: bool, now: datetime) -> State:
        order_seen = DeviceState.presence_order
        conditions = [
            DeviceState.device_id.exists() & (order_seen.does_not_exist() | (order_seen < order))
        ]
        actions: list[Action] = [order_seen.set(order), DeviceState.online.set(online)]
        if online:
            actions.append(DeviceState.last_seen.set(now))
        try:
            return self._update(device_id, actions, conditions)
        except NotMet:
            if self.device(device_id) is None:
                raise NoState(device_id) from None
            raise Stale(device_id) from None

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
    ) -> State:
        """A shelter's shadow document: what it reports running, what it desires, and the
        cloud's answer to a divergence as an outbox entry, in one write. It holds only for
        a newer shadow version (else Stale) and while the shadow's desired, the cloud's
        decision and the override are as the caller saw them (else NotMet: judge again)."""
        stored = DeviceState.shadow_version
        seen, decided = expect_seen
        conditions: list[Condition] = [
            DeviceState.device_type == "shelter",
            stored.does_not_exist() | (stored < version),
            _expect(("shadow_desired",), seen),
            _expect(("purifier_desired",), decided),
            _expect(("override", "id"), override_seen),
        ]
        actions = [stored.set(version), _set(("shadow_desired",), desired_seen)]
        if reported is not None:
            actions.append(DeviceState.purifier_reported.set(reported))
        if reassert is not None:
            entry = {"purifier": reassert, "written_at": _t(now)}
            actions.append(_set(("outbox", reassertion_key(version)), json.dumps(entry)))
        try:
            return self._update(device_id, actions, conditions)
        except NotMet:
            current = self.device(device_id)
            if current is None or current.device_type != "shelter":
                raise NoState(device_id) from None
            if current.shadow_version is not None and current.shadow_version >= version:
                raise Stale(device_id) from None
            raise

    # -- alert transitions and their outbox

    def transition(
        self,
        device_id: str,
        *,
        guard: Mapping[tuple[str, ...], Any],
        opened: Mapping[str, OpenAlert] = {},
        closed: tuple[str, ...] = (),
        seen: Mapping[str, OpenAlert] = {},
        air: tuple[AirAlert, AirAlert] | None = None,
        sets: Mapping[str, Any] = {},
        notices: tuple[tuple[Notice, dict[str, Any]], ...] = (),
        now: datetime,
        replaced: Mapping[str, OpenAlert] | None = None,
        changes: tuple[AlertChange, ...] = (),
    ) -> None:
        """Record alert episodes opening, escalating or closing, with their notices in the
        outbox, in one conditional write: it holds only if each alert (and the guard's
        attributes) is still as the caller saw it, so of two racing deliveries one records
        the transition and the other gets NotMet. The alert items the episodes raise,
        escalate or clear (`changes`) go in the same transaction: one more item each.
        Publishing happens after, from the outbox."""
        conditions = [_expect(path, value) for path, value in guard.items()]
        actions: list[Action] = []
        for kind, alert in opened.items():
            conditions.append(_expect(("alerts", kind), None))
            actions.append(_set(("alerts", kind), _episode(alert)))
        for kind, alert in (replaced or {}).items():
            conditions.append(_expect(("alerts", kind, "since"), seen[kind].since))
            actions.append(_set(("alerts", kind), _episode(alert)))
        for kind in closed:
            conditions.append(_expect(("alerts", kind, "since"), seen[kind].since))
            actions.append(_path(("alerts", kind)).remove())
        if air is not None:
            before, after = air
            conditions.append(_expect(("air_episode",), before.episode))
            conditions.append(_expect(("air_calm_since",), before.calm_since))
            actions += [
                _set(("air_episode",), after.episode),
                _set(("air_worst",), after.worst.value if after.worst else None),
                _set(("air_calm_since",), after.calm_since),
            ]
        for name, value in sets.items():
            actions.append(_set((name,), value))
        for key, document in outbox_entries(notices, now):
            text = json.dumps(document, ensure_ascii=False)
            actions.append(_set(("outbox", key), text))
        if not changes:
            self._update(device_id, actions, conditions)
            return
        transaction = NamedTransaction()
        transaction.update(
            "state", DeviceState(device_id), actions, _all(conditions), versioned=False
        )
        for change in changes:
            if isinstance(change, Raise):
                raise_in(transaction, self._city, change.alert)
            elif isinstance(change, Escalate):
                escalate_in(transaction, change, now)
            else:
                clear_in(transaction, self._city, change, now)
        try:
            transaction.commit()
        except ConditionsFailed as e:
            raise NotMet() from e

    def delivered(self, device_id: str, keys: list[str]) -> None:
        """Take delivered notices out of the outbox."""
        if not keys:
            return
        actions = [_path(("outbox", key)).remove() for key in keys]
        with contextlib.suppress(NotMet):
            self._update(device_id, actions, [DeviceState.device_id.exists()])

    # -- the purifier's override (chalicelib.domain.purifier)

    def set_override(
        self, device_id: str, override: Override, action: StaffAction, now: datetime
    ) -> None:
        """Hold a shelter's purifier: the override, its shadow update in the outbox and its
        action-log entry, in one transaction. It replaces any override (the last operator
        wins); NotMet when the device has no shelter state."""
        held = {"id": override.override_id, "mode": override.mode, "until": _t(override.until),
                "by": override.by}  # fmt: skip
        actions = [
            DeviceState.override.set(held),
            _set(("outbox", OUTBOX_KEY), _override_entry(override.mode, now)),
        ]
        self._commit_with_action(device_id, actions, DeviceState.device_type == "shelter", action)

    def end_override(
        self, device_id: str, override_id: str, mode: str, action: StaffAction, now: datetime
    ) -> None:
        """End this override (and no newer one: else NotMet) and send `mode`, the automatic
        one, to the shadow from the outbox; its action-log entry in the same transaction."""
        actions = [
            DeviceState.override.remove(),
            _set(("outbox", OUTBOX_KEY), _override_entry(mode, now)),
        ]
        self._commit_with_action(
            device_id, actions, _expect(("override", "id"), override_id), action
        )

    def override_delivered(self, device_id: str, mode: str, now: datetime) -> State | None:
        """Take the override's delivered shadow update out of the outbox, unless a newer one
        replaced it meanwhile; the state as it is now either way (None: no state)."""
        entry = _path(("outbox", OUTBOX_KEY))
        try:
            return self._update(device_id, [entry.remove()], [entry == _override_entry(mode, now)])
        except NotMet:
            return self.device(device_id)

    @staticmethod
    def _commit_with_action(
        device_id: str, actions: list[Action], condition: Condition, action: StaffAction
    ) -> None:
        transaction = NamedTransaction()
        transaction.update(
            "state", DeviceState(device_id), actions, condition=condition, versioned=False
        )
        put_in(transaction, action)
        try:
            transaction.commit()
        except ConditionsFailed as e:
            if "state" in e.names:
                raise NotMet() from e
            raise RetryableConflict(f"action {action.action_id} exists") from e

    # -- counters for operators

    def count(self, device_id: str, counter: str, *, only_if_not_accepting: bool = False) -> bool:
        """Add one to a device's counter (quarantined messages; deposits taken while not
        accepting). False when the device has no state (or is accepting, when asked)."""
        conditions: list[Condition] = [DeviceState.device_id.exists()]
        if only_if_not_accepting:
            conditions.append(DeviceState.accepting == False)  # noqa: E712 (a condition)
        try:
            self._update(device_id, [getattr(DeviceState, counter).add(1)], conditions)
        except NotMet:
            return False
        return True

    # -- air history

    def record_air(self, device_id: str, reading: Reading) -> bool:
        """The reading in its hour's item: one slot per minute (`mMM`), written once; the
        hour's sums grow in the same write, so a replay (same slot) changes nothing and the
        means need no raw readings. False when the minute already had a reading. The slot
        also keeps the chargers in use (`cu`): the KPIs count charger sessions from the rises
        between minutes, so a replay or a reorder counts none twice."""
        if reading.pm10 is None and reading.pm25 is None and reading.chargers_in_use is None:
            return False
        at = reading.ts.astimezone(UTC)
        slot = AirHour.minute(at.minute)
        minute: dict[str, Any] = {"pm10": reading.pm10, "pm25": reading.pm25, "ts": _t(at)}
        if reading.chargers_in_use is not None:
            minute["cu"] = reading.chargers_in_use
        actions: list[Action] = [
            slot.set(minute),
            AirHour.expires.set(int((at + AIR_RETENTION).timestamp())),
        ]
        for total, count, value in (
            (AirHour.pm10_sum, AirHour.pm10_n, reading.pm10),
            (AirHour.pm25_sum, AirHour.pm25_n, reading.pm25),
        ):
            if value is not None:
                actions += [total.add(value), count.add(1)]
        try:
            AirHour(device_id, hour_key(at)).update(
                actions=actions, condition=slot.does_not_exist()
            )
        except UpdateError as e:
            if condition_failed(e):
                return False
            raise
        return True

    def air_hours(self, device_id: str, first: datetime, last: datetime) -> list[HourMeans]:
        """The hours from `first` to `last` (inclusive) that have readings, oldest first:
        their sums only (a projection), one Query for up to 168 hours."""
        rows = AirHour.query(
            device_id,
            AirHour.hour.between(hour_key(first), hour_key(last)),
            attributes_to_get=["hour", "pm10_sum", "pm10_n", "pm25_sum", "pm25_n"],
        )
        return [
            HourMeans(
                hour=datetime.strptime(row.hour, "%Y-%m-%dT%H").replace(tzinfo=UTC),
                pm10=_mean(row.pm10_sum, row.pm10_n),
                pm25=_mean(row.pm25_sum, row.pm25_n),
                samples=max(int(row.pm10_n or 0), int(row.pm25_n or 0)),
            )
            for row in rows
            if row.pm10_n or row.pm25_n  # an hour of charger readings only has no air
        ]


def outbox_entries(
    notices: tuple[tuple[Notice, dict[str, Any]], ...], now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """One outbox entry per action (the alert; the purifier's desired mode), so each is
    retried on its own: a shadow that cannot be updated never sends the alert twice."""
    entries: list[tuple[str, dict[str, Any]]] = []
    for notice, message in notices:
        entries.append((notice.key, {"message": message, "written_at": _t(now)}))
        if notice.purifier is not None:
            entries.append(
                (
                    f"{notice.key}#purifier",
                    {"purifier": notice.purifier, "written_at": _t(now)},
                )
            )
    return entries


def hour_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _mean(total: Any, count: Any) -> float | None:
    if not count:
        return None
    return round(float(total) / int(count), 1)
