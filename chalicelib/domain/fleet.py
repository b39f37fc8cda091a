"""The city's devices as operators see them (DESIGN §3, §4, §5): what shelters and robots
report, the state kept of each, presence, bins and faults, and the alert episodes.

Pure Python. The payloads' models are here (chalicelib.events.intake types each message with
them at the edge) and so are their judgments: a message that is not plausible is refused
with its reason; a message older than what is stored never changes it; each alert kind is
an episode that opens once and closes once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
)

from chalicelib.domain.air import AirAlert, AirGrade, Purifier, Reading, implausible
from chalicelib.domain.alerts import KINDS, SEVERITY_BY_KIND, AlertKind, alert_id
from chalicelib.domain.device_numbers import IMPLAUSIBLE, DeviceInt, DeviceNumber

# A device's clock may run a little ahead of the cloud's; more than this is refused, so a
# message stamped in the future can never pin a device's state against newer messages.
MAX_AHEAD = timedelta(minutes=2)
# Older than this is history nobody acts on (air readings are kept 30 days).
MAX_BEHIND = timedelta(days=7)
SILENT_AFTER = timedelta(minutes=5)
BIN_FULL = 0.9

DeviceType = Literal["shelter", "robot"]
Presence = Literal["online", "offline"]
PRESENCES: tuple[Presence, ...] = ("online", "offline")
Channel = Literal["shelter_telemetry", "shelter_status", "robot_status", "shadow", "presence"]
CHANNEL_TYPES: dict[str, DeviceType | None] = {
    "shelter_telemetry": "shelter",
    "shelter_status": "shelter",
    "robot_status": "robot",
    "shadow": None,
    "presence": None,
}

Number = DeviceNumber  # bounded before any float conversion (chalicelib.domain.device_numbers)
# pydantic-core's `$` is the very end of the text (Python's `re` would let a trailing "\n" in).
ShortCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Material = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class Refused(Exception):
    """A device message that cannot be applied: `reason` is the quarantine's reason code."""

    def __init__(self, reason: str, details: str) -> None:
        super().__init__(f"{reason}: {details}")
        self.reason = reason
        self.details = details


class NoState(Exception):
    """No state for this device: it never reported, or is not a registered device of this
    type (a store raises it; the service then creates the row from the registry)."""


class Stale(Exception):
    """The stored state is as new as the message or newer: the message changes nothing."""


class NotMet(Exception):
    """A transition's condition failed: the state moved on since it was read."""


class _Chargers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    total: DeviceInt
    in_use: DeviceInt


class TelemetryMessage(BaseModel):
    """`{city}/shelters/{id}/telemetry`: every reading optional but `ts`."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)
    ts: AwareDatetime
    pm10: Number | None = None
    pm25: Number | None = None
    temp_c: Number | None = None
    humidity: Number | None = None
    co2_ppm: Number | None = None
    occupancy: DeviceInt | None = None
    chargers: _Chargers | None = None

    def reading(self) -> Reading:
        return Reading(
            ts=self.ts,
            pm10=_float(self.pm10),
            pm25=_float(self.pm25),
            temp_c=_float(self.temp_c),
            humidity=_float(self.humidity),
            co2_ppm=_float(self.co2_ppm),
            occupancy=self.occupancy,
            chargers_total=self.chargers.total if self.chargers else None,
            chargers_in_use=self.chargers.in_use if self.chargers else None,
        )


class StatusMessage(BaseModel):
    """`{city}/{robots|shelters}/{id}/status`; the last will is `{"online": false}` alone
    (a will is written at connect time, so it carries no `ts`: the cloud's receipt time
    stands in for it)."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)
    ts: AwareDatetime | None = None
    online: StrictBool = True
    bins: dict[Material, Number] | None = Field(default=None, max_length=16)
    fault: ShortCode | None = None
    fw: Annotated[str, StringConstraints(max_length=32)] | None = None


class PresenceEvent(BaseModel):
    """An AWS IoT lifecycle event (`$aws/events/presence/{connected|disconnected}/{id}`).
    `versionNumber` grows with each connection of a client id: the order of connections."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    eventType: Literal["connected", "disconnected"]
    timestamp: DeviceInt
    versionNumber: DeviceInt = Field(ge=0)


class _ShadowState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    desired: dict[str, Any] | None = None
    reported: dict[str, Any] | None = None


class _ShadowDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    state: _ShadowState = _ShadowState()
    version: DeviceInt = Field(ge=0)


class ShadowDocuments(BaseModel):
    """`$aws/things/{id}/shadow/update/documents`: the whole shadow after each accepted
    update, whoever made it (the shelter, the cloud, anyone with the data plane)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    current: _ShadowDocument

    @property
    def reported_purifier(self) -> object:
        reported = self.current.state.reported
        return None if reported is None else reported.get("purifier")

    @property
    def desired_purifier(self) -> str | None:
        """The shadow's desired purifier as text (what it shows, mode or not); None when
        the shadow desires nothing of the purifier."""
        desired = self.current.state.desired
        value = None if desired is None else desired.get("purifier")
        if value is None:
            return None
        return value[:32] if isinstance(value, str) else json.dumps(value)[:32]


# The shelter shadow as devices see it on the standard shadow topics (DESIGN §4: the state
# is `{"purifier": "auto"|"high"|"off"}`; the cloud sets `desired`, the shelter reports).
# The cloud's own update (chalicelib.adapters.iot_shadows) is built through ShadowUpdate.


class PurifierState(BaseModel):
    """The shelter shadow's state: the purifier's mode."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    purifier: Purifier


class _ShadowSides(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    desired: PurifierState | None = None
    """What the cloud asks the shelter to run (set by the cloud only)."""
    reported: PurifierState | None = None
    """What the shelter runs (set by the shelter only)."""


class ShadowUpdate(BaseModel):
    """`$aws/things/{device_id}/shadow/update`: a shelter reports `{"state": {"reported":
    {"purifier": mode}}}` after applying a mode; the cloud writes `desired` the same way
    through the data plane."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    state: _ShadowSides
    clientToken: Annotated[str, StringConstraints(max_length=64)] | None = None

    @classmethod
    def desire(cls, mode: Purifier) -> ShadowUpdate:
        return cls(state=_ShadowSides(desired=PurifierState(purifier=mode)))


class ShadowGet(BaseModel):
    """`$aws/things/{device_id}/shadow/get`: an empty request (`{}`), or with a clientToken
    that the answer carries back."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    clientToken: Annotated[str, StringConstraints(max_length=64)] | None = None


class ShadowDelta(BaseModel):
    """`$aws/things/{device_id}/shadow/update/delta`: what desired asks that reported does
    not show; the shelter runs `state.purifier`, then reports it."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    state: PurifierState
    version: DeviceInt = Field(ge=0)
    timestamp: DeviceInt
    """When the shadow service published it, in epoch seconds."""


class _ShadowFullState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    desired: PurifierState | None = None
    reported: PurifierState | None = None
    delta: PurifierState | None = None


class ShadowAccepted(BaseModel):
    """`$aws/things/{device_id}/shadow/get/accepted`: the whole shadow; a shelter that does
    not run `desired.purifier` applies it."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    state: _ShadowFullState
    version: DeviceInt = Field(ge=0)
    timestamp: DeviceInt


def reassertion_key(version: int) -> str:
    """The outbox entry of the cloud's answer to a divergent shadow version."""
    return f"shadow:{version}#purifier"


def purifier_reassertion(wanted: Purifier, shown: str | None, last_seen: str | None) -> bool:
    """Whether the cloud must set its mode again: the shadow desires something else (a
    shelter, or anyone, wrote desired; a shadow desiring nothing runs auto) and this
    divergence is new (the desired value changed since the cloud last looked), so one
    divergence is answered once, and the cloud's own writes, which agree, never loop."""
    if (shown if shown is not None else "auto") == wanted:
        return False
    return shown != last_seen


def _float(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def validation_reason(error: Exception) -> str:
    """The quarantine reason of a payload its model refused: `implausible_reading` when
    only magnitudes were refused (a 400-digit reading is as impossible as a negative one),
    else `invalid_payload`."""
    if isinstance(error, ValidationError) and all(
        e["type"] == IMPLAUSIBLE for e in error.errors(include_url=False)
    ):
        return "implausible_reading"
    return "invalid_payload"


def check_time(ts: datetime, received_at: datetime) -> None:
    """A message's age is judged against when IoT Core received it (chalicelib.domain.
    receipt), never when it is processed: a backlog never makes it too old."""
    if ts > received_at + MAX_AHEAD:
        raise Refused("ts_in_future", f"ts {ts.isoformat()} is ahead of its receipt time")
    if ts < received_at - MAX_BEHIND:
        raise Refused("ts_too_old", f"ts {ts.isoformat()} was 7 days old when received")


def judge_reading(message: TelemetryMessage, received_at: datetime) -> Reading:
    """A telemetry message the city can believe, or Refused with why."""
    check_time(message.ts, received_at)
    reading = message.reading()
    problems = implausible(reading)
    if problems:
        raise Refused("implausible_reading", "; ".join(problems))
    return reading


@dataclass(frozen=True)
class Status:
    ts: datetime
    online: bool
    bins: dict[str, float] | None
    fault: str | None
    fw: str | None
    is_will: bool = False

    @property
    def accepting(self) -> bool | None:
        """A robot with any bin at 0.9 or more takes no items; None without bin levels."""
        if self.bins is None:
            return None
        return all(level < BIN_FULL for level in self.bins.values())


def judge_status(message: StatusMessage, device_type: DeviceType, received_at: datetime) -> Status:
    if message.ts is None and message.online:
        raise Refused("invalid_payload", "ts: required unless the message is a last will")
    ts = message.ts or received_at
    check_time(ts, received_at)
    if message.bins is not None:
        if device_type != "robot":
            raise Refused("invalid_payload", "bins: a shelter has no bins")
        bad = sorted(
            f"bins.{k}: {v} is outside 0..1"
            for k, v in message.bins.items()
            if not (math.isfinite(v) and 0 <= v <= 1)
        )
        if bad:
            raise Refused("implausible_reading", "; ".join(bad))
    return Status(
        ts=ts,
        online=message.online,
        bins={k: float(v) for k, v in message.bins.items()} if message.bins is not None else None,
        fault=message.fault,
        fw=message.fw,
        is_will=message.ts is None,
    )


# ---------------------------------------------------------------- presence ordering


def presence_order(event: PresenceEvent) -> int:
    """Lifecycle events order by connection (versionNumber), and within one connection a
    disconnect comes after its connect. A duplicate or older event has an order no higher
    than the stored one and changes nothing."""
    return event.versionNumber * 2 + (1 if event.eventType == "disconnected" else 0)


# ---------------------------------------------------------------- alerts

ALERT_KINDS = KINDS  # what the fleet's rules raise: the alert kinds (domain/alerts.py)


@dataclass(frozen=True)
class OpenAlert:
    """An alert episode that is open: since when, what it is about, and its alert item
    (chalicelib.domain.alerts; None for an episode opened before alerts were items)."""

    kind: AlertKind
    since: datetime
    detail: str
    alert_id: str | None = None
    severity: str | None = None


@dataclass(frozen=True)
class Notice:
    """One message to operators: an alert raised (`opened`), escalated or cleared."""

    alert_id: str
    """The alert's id (`GET /v1/admin/alerts/{id}`), the same for each of its notices."""
    device_id: str
    kind: AlertKind
    event: Literal["opened", "escalated", "cleared"]
    at: datetime
    detail: str
    purifier: Purifier | None = None
    """The shadow's desired purifier mode that goes with it (air alerts of shelters)."""
    severity: str | None = None

    @property
    def key(self) -> str:
        """This notice's own id (its outbox entry; subscribers drop a repeat by it)."""
        return f"{self.alert_id}:{self.event}"

    def message(self, name: str, district: str) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "notice_id": self.key,
            "device_id": self.device_id,
            "name": name,
            "district": district,
            "kind": self.kind,
            "severity": self.severity,
            "event": self.event,
            "at": self.at.isoformat(),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PendingNotice:
    """An outbox entry: a notice recorded with its transition, not yet delivered."""

    device_id: str
    key: str
    document: dict[str, Any]
    written_at: datetime


@dataclass(frozen=True)
class Episodes:
    """The alert decisions one message leads to: alerts to open (kind -> OpenAlert) and to
    close (kinds), with their notices. Empty when nothing changes."""

    opened: dict[str, OpenAlert] = field(default_factory=dict)
    closed: tuple[str, ...] = ()
    notices: tuple[Notice, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.opened or self.closed)


def episode_changes(
    device_id: str,
    alerts: dict[str, OpenAlert],
    wanted: dict[AlertKind, str | None],
    at: datetime,
) -> Episodes:
    """Open each kind whose condition holds (detail given) and is not open; close each
    whose condition is gone (None) and is open. Kinds not in `wanted` are left alone."""
    opened: dict[str, OpenAlert] = {}
    closed: list[str] = []
    notices: list[Notice] = []
    for kind, detail in wanted.items():
        current = alerts.get(kind)
        if detail is not None and current is None:
            severity = SEVERITY_BY_KIND.get(kind, "major")
            opened[kind] = OpenAlert(kind, at, detail, alert_id(device_id, kind, at), severity)
            notices.append(
                Notice(
                    opened[kind].alert_id or "", device_id, kind, "opened", at, detail,
                    severity=severity,
                )
            )  # fmt: skip
        elif detail is None and current is not None:
            closed.append(kind)
            notices.append(
                Notice(
                    current.alert_id or alert_id(device_id, kind, current.since),
                    device_id,
                    kind,
                    "cleared",
                    at,
                    f"{current.detail}: cleared",
                    severity=current.severity,
                )
            )
    return Episodes(opened, tuple(closed), tuple(notices))


def robot_wanted(status: Status) -> dict[AlertKind, str | None]:
    """A robot's bin and fault conditions from its status (the will tells neither)."""
    wanted: dict[AlertKind, str | None] = {}
    if status.is_will:
        return wanted
    if status.bins is not None:
        full = sorted(k for k, v in status.bins.items() if v >= BIN_FULL)
        wanted["bin_full"] = f"bin full: {', '.join(full)}" if full else None
    wanted["fault"] = f"fault {status.fault}" if status.fault else None
    return wanted


# ---------------------------------------------------------------- the state shown


@dataclass(frozen=True)
class Override:
    """An operator's hold on a shelter's purifier. `override_id` is the id of the action
    that set it (its entry in the staff action log), so conditions can name this one."""

    override_id: str
    mode: Purifier
    until: datetime
    by: str

    def active(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True)
class DeviceState:
    """What the city keeps of a device: the registry's facts and its latest state."""

    device_id: str
    device_type: DeviceType
    name: str
    district: str
    lat: float
    lon: float
    online: bool = False
    last_seen: datetime | None = None
    pm10: float | None = None
    pm25: float | None = None
    grade: AirGrade | None = None
    air_at: datetime | None = None
    temp_c: float | None = None
    humidity: float | None = None
    co2_ppm: float | None = None
    occupancy: int | None = None
    chargers_total: int | None = None
    chargers_in_use: int | None = None
    bins: dict[str, float] | None = None
    fault: str | None = None
    fw: str | None = None
    accepting: bool = True
    purifier_reported: str | None = None
    purifier_desired: str | None = None
    """What the cloud decided; the shadow's own desired (possibly written behind the
    cloud's back) is `shadow_desired`, as of `shadow_version`."""
    shadow_desired: str | None = None
    shadow_version: int | None = None
    override: Override | None = None
    """An operator's hold on the purifier (chalicelib.domain.purifier), or None."""
    alerts: dict[str, OpenAlert] = field(default_factory=dict)
    air_alert: AirAlert = field(default_factory=AirAlert)
    telemetry_ts: datetime | None = None
    status_ts: datetime | None = None
    presence_order: int | None = None
    quarantined: int = 0
    deposits_not_accepting: int = 0
    outbox: tuple[PendingNotice, ...] = ()
    """Notices recorded with a transition and not yet delivered (normally for a second)."""

    def status(self, now: datetime, silent_after: timedelta = SILENT_AFTER) -> Presence:
        """Online only while the device is heard: a device silent for 5 minutes is offline
        even before the health job has marked it."""
        if not self.online or self.last_seen is None:
            return "offline"
        return "online" if now - self.last_seen < silent_after else "offline"
