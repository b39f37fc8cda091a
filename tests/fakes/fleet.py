"""The fleet store, the operators' alerts and the shelters' shadows in memory."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime
from typing import Any


class MemoryFleet:
    """The fleet store (chalicelib.services.fleet.FleetStore) in memory: the same conditions
    as chalicelib.adapters.dynamodb_fleet (tests/functional/test_fleet_contracts.py)."""

    def __init__(self, registry: dict[str, dict[str, Any]]) -> None:
        self.registry = registry  # device_id -> {"type", "name", "district", "lat", "lon"}
        self.states: dict[str, Any] = {}
        self.hours: dict[tuple[str, str], dict[str, Any]] = {}
        self.alert_changes: list[Any] = []
        """The alert items transitions wrote (chalicelib.domain.alerts.AlertChange)."""
        self._lock = threading.Lock()

    def device(self, device_id: str) -> Any:
        return self.states.get(device_id)

    def devices(self, device_type: str, district: str | None = None) -> list[Any]:
        found = [
            s
            for s in self.states.values()
            if s.device_type == device_type and (district is None or s.district == district)
        ]
        return sorted(found, key=lambda s: (s.district, s.device_id))

    def placed(self, device_type: str, ranges: Any) -> list[Any]:
        from chalicelib.domain.geo import Placed, geohash

        found = [s for s in self.states.values() if s.device_type == device_type]
        if ranges is not None:
            cells = [(geohash(s.lat, s.lon), s) for s in found]
            found = [s for g, s in cells if any(lo <= g <= hi + "~" for lo, hi in ranges)]
        return [Placed(s.device_id, s.lat, s.lon) for s in found]

    def states_of(self, device_ids: list[str]) -> list[Any]:
        return [self.states[d] for d in device_ids if d in self.states]

    def create_state(self, device_id: str, device_type: str) -> Any:
        from chalicelib.domain.fleet import DeviceState

        spec = self.registry.get(device_id)
        if spec is None or spec["type"] != device_type:
            return None
        place = {k: spec[k] for k in ("name", "district", "lat", "lon")}
        with self._lock:
            kept = self.states.get(device_id)
            if kept is None:
                self.states[device_id] = DeviceState(device_id, device_type, **place)  # type: ignore[arg-type]
            elif kept.device_type == device_type:  # provisioned again: renamed, moved
                self.states[device_id] = dataclasses.replace(kept, **place)
        return self.states[device_id]

    def _message(self, device_id: str, device_type: str, ts_field: str, ts: datetime) -> Any:
        from chalicelib.domain.fleet import NoState, Stale

        state = self.states.get(device_id)
        if state is None or state.device_type != device_type:
            raise NoState(device_id)
        stored = getattr(state, ts_field)
        if stored is not None and stored >= ts:
            raise Stale(device_id)
        return state

    def _put(self, state: Any, **changes: Any) -> Any:
        new = dataclasses.replace(state, **changes)
        self.states[state.device_id] = new
        return new

    def apply_reading(self, device_id: str, reading: Any, now: datetime) -> Any:
        with self._lock:
            state = self._message(device_id, "shelter", "telemetry_ts", reading.ts)
            changes: dict[str, Any] = {"online": True, "last_seen": now, "telemetry_ts": reading.ts}
            for name in ("temp_c", "humidity", "co2_ppm", "occupancy", "chargers_total",
                         "chargers_in_use"):  # fmt: skip
                if getattr(reading, name) is not None:
                    changes[name] = getattr(reading, name)
            if reading.pm10 is not None or reading.pm25 is not None:
                changes.update(
                    pm10=reading.pm10, pm25=reading.pm25, grade=reading.grade, air_at=reading.ts
                )
            return self._put(state, **changes)

    def apply_status(self, device_id: str, device_type: str, status: Any, now: datetime) -> Any:
        with self._lock:
            state = self._message(device_id, device_type, "status_ts", status.ts)
            changes: dict[str, Any] = {"online": status.online, "status_ts": status.ts}
            if not status.is_will:
                changes.update(last_seen=now, fault=status.fault)
                if status.fw is not None:
                    changes["fw"] = status.fw
                if status.bins is not None:
                    changes.update(bins=status.bins, accepting=status.accepting)
            return self._put(state, **changes)

    def apply_presence(self, device_id: str, order: int, online: bool, now: datetime) -> Any:
        from chalicelib.domain.fleet import NoState, Stale

        with self._lock:
            state = self.states.get(device_id)
            if state is None:
                raise NoState(device_id)
            if state.presence_order is not None and state.presence_order >= order:
                raise Stale(device_id)
            changes: dict[str, Any] = {"presence_order": order, "online": online}
            if online:
                changes["last_seen"] = now
            return self._put(state, **changes)

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
    ) -> Any:
        from chalicelib.domain.fleet import NoState, NotMet, PendingNotice, Stale, reassertion_key

        with self._lock:
            state = self.states.get(device_id)
            if state is None or state.device_type != "shelter":
                raise NoState(device_id)
            if state.shadow_version is not None and state.shadow_version >= version:
                raise Stale(device_id)
            if (state.shadow_desired, state.purifier_desired) != expect_seen:
                raise NotMet()
            if _at(state, ("override", "id")) != override_seen:
                raise NotMet()
            changes: dict[str, Any] = {"shadow_version": version, "shadow_desired": desired_seen}
            if reported is not None:
                changes["purifier_reported"] = reported
            if reassert is not None:
                entry = PendingNotice(
                    device_id, reassertion_key(version), {"purifier": reassert}, now
                )
                changes["outbox"] = (*state.outbox, entry)
            return self._put(state, **changes)

    def transition(
        self,
        device_id: str,
        *,
        guard: dict[tuple[str, ...], Any],
        opened: dict[str, Any],
        closed: tuple[str, ...],
        seen: dict[str, Any],
        air: Any,
        sets: dict[str, Any],
        notices: tuple[tuple[Any, dict[str, Any]], ...],
        now: datetime,
        replaced: dict[str, Any] | None = None,
        changes: tuple[Any, ...] = (),
    ) -> None:
        from chalicelib.domain.fleet import NotMet, PendingNotice

        with self._lock:
            state = self.states.get(device_id)
            if state is None:
                raise NotMet()
            held = all(_at(state, path) == value for path, value in guard.items())
            held = held and not any(kind in state.alerts for kind in opened)
            held = held and all(
                kind in state.alerts and state.alerts[kind].since == seen[kind].since
                for kind in (*closed, *(replaced or {}))
            )
            if air is not None:
                before, _ = air
                held = held and (state.air_alert.episode, state.air_alert.calm_since) == (
                    before.episode, before.calm_since)  # fmt: skip
            if not held:
                raise NotMet()
            alerts = {k: v for k, v in state.alerts.items() if k not in closed}
            alerts.update(opened)
            alerts.update(replaced or {})
            self.alert_changes.extend(changes)
            outbox = list(state.outbox)
            for notice, message in notices:
                outbox.append(PendingNotice(device_id, notice.key, {"message": message}, now))
                if notice.purifier is not None:
                    outbox.append(
                        PendingNotice(
                            device_id, f"{notice.key}#purifier",
                            {"purifier": notice.purifier}, now,
                        )
                    )  # fmt: skip
            updates: dict[str, Any] = {"alerts": alerts, "outbox": tuple(outbox), **sets}
            if air is not None:
                updates["air_alert"] = air[1]
            self._put(state, **updates)

    def delivered(self, device_id: str, keys: list[str]) -> None:
        with self._lock:
            state = self.states.get(device_id)
            if state is not None and keys:
                kept = tuple(p for p in state.outbox if p.key not in keys)
                self._put(state, outbox=kept)

    def count(self, device_id: str, counter: str, *, only_if_not_accepting: bool = False) -> bool:
        with self._lock:
            state = self.states.get(device_id)
            if state is None or (only_if_not_accepting and state.accepting):
                return False
            self._put(state, **{counter: getattr(state, counter) + 1})
            return True

    def record_air(self, device_id: str, reading: Any) -> bool:
        from datetime import UTC

        if reading.pm10 is None and reading.pm25 is None:
            return False
        at = reading.ts.astimezone(UTC)
        with self._lock:
            hour = self.hours.setdefault((device_id, at.strftime("%Y-%m-%dT%H")), {})
            slot = f"m{at.minute:02d}"
            if slot in hour:
                return False
            hour[slot] = (reading.pm10, reading.pm25)
            return True

    def air_hours(self, device_id: str, first: datetime, last: datetime) -> list[Any]:
        from datetime import UTC

        from chalicelib.domain.air import HourMeans

        low, high = (t.astimezone(UTC).strftime("%Y-%m-%dT%H") for t in (first, last))
        found = []
        for (device, hour), slots in sorted(self.hours.items()):
            if device != device_id or not low <= hour <= high:
                continue
            pm10 = [v[0] for v in slots.values() if v[0] is not None]
            pm25 = [v[1] for v in slots.values() if v[1] is not None]
            found.append(
                HourMeans(
                    datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC),
                    round(sum(pm10) / len(pm10), 1) if pm10 else None,
                    round(sum(pm25) / len(pm25), 1) if pm25 else None,
                    max(len(pm10), len(pm25)),
                )
            )
        return found


def _at(state: Any, path: tuple[str, ...]) -> Any:
    """A guard's path in a state: an attribute, or the stored override's id."""
    value = getattr(state, path[0])
    if path == ("override", "id"):
        return value.override_id if value is not None else None
    return value


class RecordingAlerts:
    """The operators' topic and the shelters' shadows: what was sent, or a failure."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.purifiers: list[tuple[str, str]] = []
        self.down = False

    def publish(self, message: dict[str, Any]) -> None:
        if self.down:
            raise ConnectionError("SNS unreachable")
        self.published.append(message)

    def desire_purifier(self, device_id: str, mode: str) -> None:
        self.purifiers.append((device_id, mode))
