"""A whole city on a running local stack, for the console's bench (bench/console_city.py):
1,000 devices (by default 500 shelters and 500 robots over Gimhae's districts, some of them
sharing a spot) with their state, and 200 open alerts.

The paths are the real ones but for the radio: each device is provisioned as
iot/provisioning.py provisions it (its thing, of its type, in its group; its registry row and
state row through the app's adapters) but without a certificate, since it never connects;
its one message (a shelter's telemetry, a robot's status) goes into the device-reports
queue exactly as the topic rule puts it there, and the stack's own poller runs the real
handler (the fleet service: state, alert episodes, purifier shadow, notices). What is open
at the end is what the handlers decided: 120 shelters whose air is bad or very bad, 60
robots with a full bin and 20 with a fault.

Ids start with `city-`: a second seeding of the same stack sends newer messages to the same
devices (their state refreshed, no alert twice); the fleet file's own devices count
towards the totals, so the API lists exactly `shelters` and `robots` of each.
"""

from __future__ import annotations

import base64
import json
import random
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iot.provisioning import DeviceSpec, make_spec

PREFIX = "city-"
DEVICE_REPORTS_QUEUE = "device-reports"
SEND_BATCH = 10  # SendMessageBatch's limit

# Rough centres of Gimhae's districts (chalicelib/data/districts.json), and how many devices
# a district gets relative to the others: the town's dong hold most people, the
# myeon are farmland with a few villages. The bench needs a plausible spread, not a survey.
DISTRICT_CENTRES: dict[str, tuple[float, float, int]] = {
    "jinyeong-eup": (35.305, 128.730, 3),
    "jucheon-myeon": (35.268, 128.830, 1),
    "jillye-myeon": (35.245, 128.750, 1),
    "hallim-myeon": (35.320, 128.790, 1),
    "saengnim-myeon": (35.340, 128.860, 1),
    "sangdong-myeon": (35.320, 128.930, 1),
    "daedong-myeon": (35.250, 128.980, 1),
    "dongsang-dong": (35.236, 128.884, 2),
    "hoehyeon-dong": (35.228, 128.882, 2),
    "buwon-dong": (35.226, 128.889, 2),
    "naeoe-dong": (35.240, 128.865, 4),
    "bukbu-dong": (35.255, 128.885, 4),
    "chilsanseobu-dong": (35.205, 128.900, 1),
    "hwalcheon-dong": (35.220, 128.900, 3),
    "saman-dong": (35.236, 128.905, 2),
    "buram-dong": (35.215, 128.875, 2),
    "jangyu1-dong": (35.195, 128.805, 3),
    "jangyu2-dong": (35.185, 128.820, 3),
    "jangyu3-dong": (35.200, 128.790, 3),
}
TOWN_SPREAD_DEG = 0.008  # a dong is a few km across
RURAL_SPREAD_DEG = 0.02


@dataclass(frozen=True)
class AlertPlan:
    """How many devices end in each open alert (200 in all by default)."""

    air_bad: int = 90
    air_very_bad: int = 30
    bin_full: int = 60
    fault: int = 20

    @property
    def shelters(self) -> int:
        return self.air_bad + self.air_very_bad

    @property
    def robots(self) -> int:
        return self.bin_full + self.fault

    @property
    def total(self) -> int:
        return self.shelters + self.robots


@dataclass(frozen=True)
class CityDevice:
    spec: DeviceSpec
    channel: str  # its one message's channel
    payload: dict[str, Any]  # the message, as the device publishes it
    expect: str | None  # the alert kind its message opens, or None


@dataclass
class City:
    devices: list[CityDevice]
    shared_spots: int  # places with more than one device
    devices_sharing: int  # devices at those places

    def counts(self) -> dict[str, int]:
        kinds = Counter(d.spec.device_type for d in self.devices)
        alerts = Counter(d.expect for d in self.devices if d.expect is not None)
        return {
            "shelters": kinds["shelter"],
            "robots": kinds["robot"],
            "alerts": sum(alerts.values()),
            **{f"alerts_{k}": n for k, n in sorted(alerts.items())},
            "shared_spots": self.shared_spots,
            "devices_sharing_a_spot": self.devices_sharing,
        }


def plan_city(
    shelters: int = 500,
    robots: int = 500,
    alerts: AlertPlan | None = None,
    *,
    now: datetime | None = None,
    seed: int = 24,
) -> City:
    """The devices, their places and their messages (deterministic for a seed). A tenth of
    the robots stand at a shelter's very spot, and robots come in threes at a few recycling
    stations, so the map has co-located devices to spread apart."""
    plan = alerts or AlertPlan()
    if plan.shelters > shelters or plan.robots > robots:
        raise ValueError(f"{plan} needs more devices than {shelters} shelters, {robots} robots")
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    ts = now.isoformat()
    names = list(DISTRICT_CENTRES)
    weights = [DISTRICT_CENTRES[d][2] for d in names]

    def place(district: str) -> tuple[float, float]:
        lat, lon, weight = DISTRICT_CENTRES[district]
        spread = RURAL_SPREAD_DEG if weight == 1 else TOWN_SPREAD_DEG
        return round(lat + rng.gauss(0, spread), 6), round(lon + rng.gauss(0, spread), 6)

    shelter_places = []
    for _ in range(shelters):
        district = rng.choices(names, weights)[0]
        shelter_places.append((district, *place(district)))
    robot_places: list[tuple[str, float, float]] = []
    spots: Counter[tuple[float, float]] = Counter((p[1], p[2]) for p in shelter_places)
    while len(robot_places) < robots:
        n = len(robot_places)
        if n % 10 == 0 and n // 10 < shelters:  # beside a shelter, on its very spot
            robot_places.append(shelter_places[n // 10])
        elif n % 50 == 1:  # a recycling station of three robots
            district = rng.choices(names, weights)[0]
            station = (district, *place(district))
            robot_places.extend([station] * min(3, robots - n))
        else:
            district = rng.choices(names, weights)[0]
            robot_places.append((district, *place(district)))
    spots.update((p[1], p[2]) for p in robot_places)
    shared = {spot: n for spot, n in spots.items() if n > 1}

    air: list[str | None] = [None] * shelters
    air[: plan.shelters] = ["very_bad"] * plan.air_very_bad + ["bad"] * plan.air_bad
    rng.shuffle(air)
    trouble: list[str | None] = [None] * robots
    trouble[: plan.robots] = ["fault"] * plan.fault + ["bin_full"] * plan.bin_full
    rng.shuffle(trouble)

    devices = []
    for i, ((district, lat, lon), grade) in enumerate(zip(shelter_places, air, strict=True)):
        spec = make_spec(
            f"{PREFIX}shelter-{i + 1:04d}", "shelter", f"스마트쉼터 {i + 1}", district, lat, lon
        )
        payload = _telemetry(ts, grade, rng)
        devices.append(CityDevice(spec, "shelter_telemetry", payload, "air" if grade else None))
    for i, ((district, lat, lon), kind) in enumerate(zip(robot_places, trouble, strict=True)):
        spec = make_spec(
            f"{PREFIX}robot-{i + 1:04d}", "robot", f"회수로봇 {i + 1}", district, lat, lon
        )
        devices.append(CityDevice(spec, "robot_status", _status(ts, kind, rng), kind))
    return City(devices, len(shared), sum(shared.values()))


def _telemetry(ts: str, grade: str | None, rng: random.Random) -> dict[str, Any]:
    """A shelter's reading: PM10 in the band of its grade (good <= 30, moderate <= 80,
    bad <= 150, very bad above); clean air otherwise, PM2.5 below its bad band."""
    if grade == "very_bad":
        pm10 = rng.uniform(160, 240)
    elif grade == "bad":
        pm10 = rng.uniform(90, 140)
    else:
        pm10 = rng.choice([rng.uniform(8, 28), rng.uniform(35, 70)])
    pm25 = min(pm10 * 0.45, 30.0) if grade is None else pm10 * 0.5
    return {
        "ts": ts,
        "pm10": round(pm10, 1),
        "pm25": round(pm25, 1),
        "temp_c": round(rng.uniform(-2, 31), 1),
        "humidity": round(rng.uniform(25, 85), 1),
        "co2_ppm": rng.randint(420, 1400),
        "occupancy": rng.randint(0, 12),
        "chargers": {"total": 4, "in_use": rng.randint(0, 4)},
    }


def _status(ts: str, kind: str | None, rng: random.Random) -> dict[str, Any]:
    bins = {"can": round(rng.uniform(0.0, 0.85), 2), "pet": round(rng.uniform(0.0, 0.85), 2)}
    if kind == "bin_full":
        bins[rng.choice(["can", "pet"])] = round(rng.uniform(0.9, 1.0), 2)
    return {
        "ts": ts,
        "online": True,
        "bins": bins,
        "fault": "E-JAM" if kind == "fault" else None,
        "fw": "1.4.2",
    }


def queue_bodies(devices: Iterable[CityDevice], received_at: datetime) -> list[str]:
    """Each device's message as its topic rule sends it to the queue (iot/rules/*.json:
    the payload base64-encoded, the device from the topic, the channel, IoT's receipt time)."""
    stamp = int(received_at.timestamp() * 1000)
    return [
        json.dumps(
            {
                "payload": base64.b64encode(json.dumps(d.payload).encode()).decode(),
                "device_id": d.spec.thing,
                "channel": d.channel,
                "received_at": stamp,
            }
        )
        for d in devices
    ]


# ------------------------------------------------------------------- on a running stack


@dataclass
class Seeded:
    counts: dict[str, int]
    timings_s: dict[str, float] = field(default_factory=dict)
    listed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"planned": self.counts, "listed": self.listed, "seconds": self.timings_s}


def seed(
    stack: dict[str, Any],
    shelters: int = 500,
    robots: int = 500,
    alerts: AlertPlan | None = None,
    *,
    token: str,
    timeout_s: float = 600,
    log: Callable[[str], None] = print,
) -> Seeded:
    """Seed the city into the stack of `stack` (its stack.json) so the API lists `shelters`
    shelters and `robots` robots in all, with the planned alerts open; waits until it does.
    `token`: an operator's, for the admin reads that check."""
    from infra.local.provision import _use_stack_environment

    api = stack["api_url"]
    others = _others(api, token)
    city = plan_city(shelters - others["shelter"], robots - others["robot"], alerts)
    result = Seeded(city.counts())
    started = time.monotonic()

    _use_stack_environment(stack)  # this process writes through the app's adapters
    import boto3

    from chalicelib import config
    from iot import provisioning

    session = boto3.session.Session(region_name=stack["region"])
    iot = session.client("iot", endpoint_url=stack["aws_endpoint_url"])
    sqs = session.client("sqs", endpoint_url=stack["aws_endpoint_url"])
    t = time.monotonic()
    prefix = config.resource_prefix()
    for device in city.devices:
        provisioning.create_thing(iot, device.spec, prefix)
    result.timings_s["things"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    provisioning.record_devices(
        [d.spec.registry_row() for d in city.devices], stack["mqtt"]["city"]
    )
    result.timings_s["registry_and_state_rows"] = round(time.monotonic() - t, 2)
    log(f"seed: {len(city.devices)} devices provisioned in {time.monotonic() - started:.1f} s")

    t = time.monotonic()
    url = stack["resources"]["queues"][DEVICE_REPORTS_QUEUE]
    bodies = queue_bodies(city.devices, datetime.now(UTC))
    for first in range(0, len(bodies), SEND_BATCH):
        entries = [
            {"Id": str(n), "MessageBody": body}
            for n, body in enumerate(bodies[first : first + SEND_BATCH])
        ]
        failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
        if failed:
            raise RuntimeError(f"the queue refused messages: {failed}")
    result.timings_s["messages_sent"] = round(time.monotonic() - t, 2)

    t = time.monotonic()
    planned = Counter(f"{d.spec.device_type}s_reported" for d in city.devices)
    while True:
        listed = listed_city(api, token)
        reported = all(listed[k] == n for k, n in planned.items())
        if reported and listed["open_alerts"] >= result.counts["alerts"]:
            break
        if time.monotonic() - t > timeout_s:
            raise RuntimeError(f"the stack did not take the city in {timeout_s:.0f} s: {listed}")
        time.sleep(1.0)
    result.timings_s["handled"] = round(time.monotonic() - t, 2)
    result.timings_s["total"] = round(time.monotonic() - started, 2)
    result.listed = listed
    log(f"seed: the city is in, {result.timings_s['total']:.1f} s: {listed}")
    return result


def _others(api: str, token: str) -> Counter[str]:
    """Devices listed that are not the city's (the fleet file's)."""
    found: Counter[str] = Counter()
    for kind in ("shelter", "robot"):
        for device in get_json(api, f"/v1/{kind}s", None)[f"{kind}s"]:
            if not device["device_id"].startswith(PREFIX):
                found[kind] += 1
    return found


def listed_city(api: str, token: str) -> dict[str, int]:
    """What the API lists: shelters and robots (and how many of the city's have reported),
    the operators' devices, and the open alerts (every page)."""
    out: dict[str, int] = {}
    for kind in ("shelters", "robots"):
        listed = get_json(api, f"/v1/{kind}", None)[kind]
        out[kind] = len(listed)
        out[f"{kind}_reported"] = sum(
            1 for d in listed if d["device_id"].startswith(PREFIX) and d["last_seen"] is not None
        )
    out["admin_devices"] = len(get_json(api, "/v1/admin/devices", token)["devices"])
    out["open_alerts"] = count_open_alerts(api, token)
    return out


def count_open_alerts(api: str, token: str) -> int:
    total, cursor = 0, None
    while True:
        path = "/v1/admin/alerts?status=active&limit=200"
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor, safe="")
        page = get_json(api, path, token)
        total += len(page["alerts"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def get_json(api: str, path: str, token: str | None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(api + path, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
