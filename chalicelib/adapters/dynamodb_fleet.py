"""DynamoDB adapter for the fleet's state (`device-states`) and the shelters' air history
(`air-hours`), the tables of chalicelib.adapters.dynamodb_models.DeviceState and AirHour.

Written with update expressions on the container's DynamoDB client, because every write is
conditioned: a message's state write holds only if the message is newer than the stored one
(`#ts < :ts`); an alert transition only if the alert is still as the service saw it. One
item per device holds everything its API view shows, so a device's state is one GetItem and
a city's list one Query of the `by-group` index.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import aws_clients
from chalicelib.adapters.dynamodb_models import AirHour, Device, DeviceState
from chalicelib.adapters.dynamodb_transactions import condition_failed
from chalicelib.domain.air import AirAlert, AirGrade, HourMeans, Reading
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

AIR_RETENTION = timedelta(days=30)
STATE_FIELDS = {"telemetry": "telemetry_ts", "status": "status_ts"}


# ---------------------------------------------------------------- attribute values


def _t(moment: datetime) -> str:
    """UTC, fixed width: strings that sort as the instants do, for conditions."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_t(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _av(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": repr(value) if isinstance(value, float) else str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, datetime):
        return {"S": _t(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): _av(v) for k, v in value.items()}}
    raise TypeError(f"no DynamoDB type for {type(value).__name__}")


def _py(av: dict[str, Any]) -> Any:
    ((kind, value),) = av.items()
    if kind == "NULL":
        return None
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {k: _py(v) for k, v in value.items()}
    if kind == "L":
        return [_py(v) for v in value]
    return value


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _py(v) for k, v in raw.items()}


@dataclass
class _Expr:
    """An update expression with its names and values, built up part by part."""

    sets: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def name(self, *path: str) -> str:
        parts = []
        for part in path:
            key = f"#n{len(self.names)}"
            for existing, value in self.names.items():
                if value == part:
                    key = existing
                    break
            self.names[key] = part
            parts.append(key)
        return ".".join(parts)

    def value(self, value: Any) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = _av(value)
        return key

    def set(self, path: str | tuple[str, ...], value: Any) -> None:
        target = self.name(*((path,) if isinstance(path, str) else path))
        if value is None:
            self.removes.append(target)
        else:
            self.sets.append(f"{target} = {self.value(value)}")

    def expect(self, path: tuple[str, ...], value: Any) -> None:
        """Condition: the attribute holds this value (None: it is absent)."""
        target = self.name(*path)
        if value is None:
            self.conditions.append(f"attribute_not_exists({target})")
        else:
            self.conditions.append(f"{target} = {self.value(value)}")

    def request(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        clauses = []
        if self.sets:
            clauses.append("SET " + ", ".join(self.sets))
        if self.removes:
            clauses.append("REMOVE " + ", ".join(self.removes))
        if self.adds:
            clauses.append("ADD " + ", ".join(self.adds))
        request: dict[str, Any] = {
            "TableName": table,
            "Key": {k: _av(v) for k, v in key.items()},
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": self.names,
        }
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        if self.conditions:
            request["ConditionExpression"] = " AND ".join(f"({c})" for c in self.conditions)
        return request


# ---------------------------------------------------------------- state from items


def state_from_item(item: dict[str, Any]) -> State:
    def when(name: str) -> datetime | None:
        value = item.get(name)
        return _parse_t(value) if isinstance(value, str) else None

    alerts = {
        kind: OpenAlert(kind, _parse_t(a["since"]), str(a.get("detail", "")))
        for kind, a in (item.get("alerts") or {}).items()
    }
    grade = item.get("grade")
    worst = item.get("air_worst")
    return State(
        device_id=item["device_id"],
        device_type=item["device_type"],
        name=item.get("name", ""),
        district=item.get("district", ""),
        lat=float(item.get("lat", 0)),
        lon=float(item.get("lon", 0)),
        online=bool(item.get("online", False)),
        last_seen=when("last_seen"),
        pm10=item.get("pm10"),
        pm25=item.get("pm25"),
        grade=AirGrade(grade) if grade else None,
        air_at=when("air_at"),
        temp_c=item.get("temp_c"),
        humidity=item.get("humidity"),
        co2_ppm=item.get("co2_ppm"),
        occupancy=item.get("occupancy"),
        chargers_total=item.get("chargers_total"),
        chargers_in_use=item.get("chargers_in_use"),
        bins={k: float(v) for k, v in item["bins"].items()} if item.get("bins") else None,
        fault=item.get("fault"),
        fw=item.get("fw"),
        accepting=bool(item.get("accepting", True)),
        purifier_reported=item.get("purifier_reported"),
        purifier_desired=item.get("purifier_desired"),
        shadow_desired=item.get("shadow_desired"),
        shadow_version=item.get("shadow_version"),
        alerts=alerts,
        air_alert=AirAlert(
            episode=item.get("air_episode"),
            worst=AirGrade(worst) if worst else None,
            calm_since=when("air_calm_since"),
        ),
        telemetry_ts=when("telemetry_ts"),
        status_ts=when("status_ts"),
        presence_order=item.get("presence_order"),
        quarantined=int(item.get("quarantined", 0)),
        deposits_not_accepting=int(item.get("deposits_not_accepting", 0)),
        outbox=tuple(
            _pending(item["device_id"], key, json.loads(text))
            for key, text in (item.get("outbox") or {}).items()
        ),
    )


def _pending(device_id: str, key: str, document: dict[str, Any]) -> PendingNotice:
    return PendingNotice(device_id, key, document, _parse_t(document["written_at"]))


# ---------------------------------------------------------------- the store


class DynamoDbFleet:
    def __init__(self, city: str, client: Any = None) -> None:
        self._city = city
        self._client = client

    @property
    def _db(self) -> Any:
        return self._client or aws_clients.client("dynamodb")

    @staticmethod
    def _states() -> str:
        return str(DeviceState.Meta.table_name)

    def group(self, device_type: str) -> str:
        return f"{self._city}#{device_type}"

    # -- reads

    def device(self, device_id: str) -> State | None:
        raw = self._db.get_item(TableName=self._states(), Key={"device_id": _av(device_id)})
        return state_from_item(_item(raw["Item"])) if "Item" in raw else None

    def _raw_items(self, device_type: str, district: str | None) -> Iterator[dict[str, Any]]:
        expr = _Expr()
        condition = f"{expr.name('fleet_group')} = {expr.value(self.group(device_type))}"
        if district is not None:
            condition += f" AND begins_with({expr.name('place')}, {expr.value(district + '#')})"
        request: dict[str, Any] = {
            "TableName": self._states(),
            "IndexName": "by-group",
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": expr.names,
            "ExpressionAttributeValues": expr.values,
        }
        while True:
            page = self._db.query(**request)
            for raw in page.get("Items", []):
                yield _item(raw)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def devices(self, device_type: str, district: str | None = None) -> list[State]:
        """Every device of a type in the city (or a district), sorted by district and id:
        one Query per MB of states (500 shelters are about 300 KB: one request)."""
        return [state_from_item(i) for i in self._raw_items(device_type, district)]

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
        item = {
            "device_id": device_id,
            "device_type": device_type,
            "fleet_group": self.group(device_type),
            "place": f"{registered.district}#{device_id}",
            "name": registered.name,
            "district": registered.district,
            "lat": float(registered.lat),
            "lon": float(registered.lon),
            "online": False,
            "accepting": True,
            "alerts": {},
            "outbox": {},
        }
        try:
            self._db.put_item(
                TableName=self._states(),
                Item={k: _av(v) for k, v in item.items()},
                ConditionExpression="attribute_not_exists(device_id)",
            )
        except ClientError as e:
            if not condition_failed(e):
                raise
        return self.device(device_id)

    def _update(self, expr: _Expr, device_id: str) -> State:
        request = expr.request(self._states(), {"device_id": device_id})
        request["ReturnValues"] = "ALL_NEW"
        try:
            raw = self._db.update_item(**request)
        except ClientError as e:
            if condition_failed(e):
                raise NotMet() from e
            raise
        return state_from_item(_item(raw["Attributes"]))

    def _message_update(
        self, device_id: str, device_type: DeviceType, ts_field: str, ts: datetime, expr: _Expr
    ) -> State:
        """Apply a device message's changes if its `ts` is newer than the stored one."""
        expr.conditions.append(f"{expr.name('device_type')} = {expr.value(device_type)}")
        target = expr.name(ts_field)
        expr.conditions.append(f"attribute_not_exists({target}) OR {target} < {expr.value(_t(ts))}")
        expr.set(ts_field, ts)
        try:
            return self._update(expr, device_id)
        except NotMet:
            current = self.device(device_id)
            if current is None or current.device_type != device_type:
                raise NoState(device_id) from None
            raise Stale(device_id) from None

    def apply_reading(self, device_id: str, reading: Reading, now: datetime) -> State:
        expr = _Expr()
        expr.set("online", True)
        expr.set("last_seen", now)
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
                expr.set(name, value)
        return self._message_update(device_id, "shelter", "telemetry_ts", reading.ts, expr)

    def apply_status(
        self, device_id: str, device_type: DeviceType, status: Status, now: datetime
    ) -> State:
        expr = _Expr()
        expr.set("online", status.online)
        if not status.is_will:
            expr.set("last_seen", now)
            expr.set("fault", status.fault)
            if status.fw is not None:
                expr.set("fw", status.fw)
            if status.bins is not None:
                expr.set("bins", status.bins)
                expr.set("accepting", status.accepting)
        return self._message_update(device_id, device_type, "status_ts", status.ts, expr)

    def apply_presence(self, device_id: str, order: int, online: bool, now: datetime) -> State:
        expr = _Expr()
        target = expr.name("presence_order")
        expr.conditions.append(
            f"attribute_exists({expr.name('device_id')}) AND "
            f"(attribute_not_exists({target}) OR {target} < {expr.value(order)})"
        )
        expr.set("presence_order", order)
        expr.set("online", online)
        if online:
            expr.set("last_seen", now)
        try:
            return self._update(expr, device_id)
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
        reassert: str | None,
        now: datetime,
    ) -> State:
        """A shelter's shadow document: what it reports running, what it desires, and the
        cloud's answer to a divergence as an outbox entry, in one write. It holds only for
        a newer shadow version (else Stale) and while the shadow's desired and the cloud's
        decision are as the caller saw them (else NotMet: judge again)."""
        expr = _Expr()
        expr.conditions.append(f"{expr.name('device_type')} = {expr.value('shelter')}")
        target = expr.name("shadow_version")
        expr.conditions.append(
            f"attribute_not_exists({target}) OR {target} < {expr.value(version)}"
        )
        seen, decided = expect_seen
        expr.expect(("shadow_desired",), seen)
        expr.expect(("purifier_desired",), decided)
        expr.set("shadow_version", version)
        expr.set("shadow_desired", desired_seen)
        if reported is not None:
            expr.set("purifier_reported", reported)
        if reassert is not None:
            entry = {"purifier": reassert, "written_at": _t(now)}
            expr.set(("outbox", reassertion_key(version)), json.dumps(entry))
        try:
            return self._update(expr, device_id)
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
    ) -> State:
        """Record alert episodes opening or closing, with their notices in the outbox, in
        one conditional write: it holds only if each alert (and the guard's attributes) is
        still as the caller saw it, so of two racing deliveries one records the transition
        and the other gets NotMet. Publishing happens after, from the outbox."""
        expr = _Expr()
        for path, value in guard.items():
            expr.expect(path, value)
        for kind, alert in opened.items():
            expr.expect(("alerts", kind), None)
            expr.set(("alerts", kind), {"since": _t(alert.since), "detail": alert.detail})
        for kind in closed:
            expr.expect(("alerts", kind, "since"), _t(seen[kind].since))
            expr.removes.append(expr.name("alerts", kind))
        if air is not None:
            before, after = air
            expr.expect(("air_episode",), before.episode)
            expr.expect(("air_calm_since",), _t(before.calm_since) if before.calm_since else None)
            expr.set("air_episode", after.episode)
            expr.set("air_worst", after.worst.value if after.worst else None)
            expr.set("air_calm_since", after.calm_since)
        for name, value in sets.items():
            expr.set(name, value)
        for key, document in outbox_entries(notices, now):
            expr.set(("outbox", key), json.dumps(document, ensure_ascii=False))
        return self._update(expr, device_id)

    def delivered(self, device_id: str, keys: list[str]) -> None:
        """Take delivered notices out of the outbox."""
        if not keys:
            return
        expr = _Expr()
        expr.removes.extend(expr.name("outbox", key) for key in keys)
        expr.conditions.append(f"attribute_exists({expr.name('device_id')})")
        with contextlib.suppress(NotMet):
            self._update(expr, device_id)

    # -- counters for operators

    def count(self, device_id: str, counter: str, *, only_if_not_accepting: bool = False) -> bool:
        """Add one to a device's counter (quarantined messages; deposits taken while not
        accepting). False when the device has no state (or is accepting, when asked)."""
        expr = _Expr()
        expr.adds.append(f"{expr.name(counter)} {expr.value(1)}")
        expr.conditions.append(f"attribute_exists({expr.name('device_id')})")
        if only_if_not_accepting:
            expr.conditions.append(f"{expr.name('accepting')} = {expr.value(False)}")
        try:
            self._update(expr, device_id)
        except NotMet:
            return False
        return True

    # -- air history

    def record_air(self, device_id: str, reading: Reading) -> bool:
        """The reading in its hour's item: one slot per minute (`mMM`), written once; the
        hour's sums grow in the same write, so a replay (same slot) changes nothing and the
        means need no raw readings. False when the minute already had a reading."""
        if reading.pm10 is None and reading.pm25 is None:
            return False
        at = reading.ts.astimezone(UTC)
        expr = _Expr()
        slot = expr.name(f"m{at.minute:02d}")
        expr.conditions.append(f"attribute_not_exists({slot})")
        expr.sets.append(
            f"{slot} = {expr.value({'pm10': reading.pm10, 'pm25': reading.pm25, 'ts': _t(at)})}"
        )
        expr.set("expires", int((at + AIR_RETENTION).timestamp()))
        for name, value in (("pm10", reading.pm10), ("pm25", reading.pm25)):
            if value is not None:
                expr.adds.append(f"{expr.name(name + '_sum')} {expr.value(value)}")
                expr.adds.append(f"{expr.name(name + '_n')} {expr.value(1)}")
        request = expr.request(
            str(AirHour.Meta.table_name), {"device_id": device_id, "hour": hour_key(at)}
        )
        try:
            self._db.update_item(**request)
        except ClientError as e:
            if condition_failed(e):
                return False
            raise
        return True

    def air_hours(self, device_id: str, first: datetime, last: datetime) -> list[HourMeans]:
        """The hours from `first` to `last` (inclusive) that have readings, oldest first:
        their sums only (a projection), one Query for up to 168 hours."""
        expr = _Expr()
        condition = (
            f"{expr.name('device_id')} = {expr.value(device_id)} AND {expr.name('hour')} "
            f"BETWEEN {expr.value(hour_key(first))} AND {expr.value(hour_key(last))}"
        )
        projection = ", ".join(
            expr.name(n) for n in ("hour", "pm10_sum", "pm10_n", "pm25_sum", "pm25_n")
        )
        request: dict[str, Any] = {
            "TableName": str(AirHour.Meta.table_name),
            "KeyConditionExpression": condition,
            "ProjectionExpression": projection,
            "ExpressionAttributeNames": expr.names,
            "ExpressionAttributeValues": expr.values,
        }
        hours = []
        while True:
            page = self._db.query(**request)
            for raw in page.get("Items", []):
                item = _item(raw)
                hours.append(
                    HourMeans(
                        hour=datetime.strptime(item["hour"], "%Y-%m-%dT%H").replace(tzinfo=UTC),
                        pm10=_mean(item.get("pm10_sum"), item.get("pm10_n")),
                        pm25=_mean(item.get("pm25_sum"), item.get("pm25_n")),
                        samples=max(int(item.get("pm10_n", 0)), int(item.get("pm25_n", 0))),
                    )
                )
            if "LastEvaluatedKey" not in page:
                return hours
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def outbox_entries(
    notices: tuple[tuple[Notice, dict[str, Any]], ...], now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """One outbox entry per action (the alert; the purifier's desired mode), so each is
    retried on its own: a shadow that cannot be updated never sends the alert twice."""
    entries: list[tuple[str, dict[str, Any]]] = []
    for notice, message in notices:
        entries.append((notice.alert_id, {"message": message, "written_at": _t(now)}))
        if notice.purifier is not None:
            entries.append(
                (
                    f"{notice.alert_id}#purifier",
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
