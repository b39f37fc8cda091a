"""`up --demo`: the city alive on one machine, so a newcomer sees it working within a minute.

Everything goes through the real paths: robots and shelters are the device agents
(iot/agents.py) on their own certificates over MQTT; citizens use the HTTP API with dev tokens.
- citizens (walkers in several districts) register, walk through a simulated day and sync
  their steps (`PUT /v1/me/steps`), and bring cans and PET to the park's robots, half the
  time with a one-time code from the app, else with their phone number;
- robots: the deposit mix of iot/simulators.py (rejections, now and then nothing accepted),
  bins that fill (a full robot stops taking deposits until an operator empties it);
- shelters (infra/local/demo_shelters.py): a daily dust curve with bad-air episodes, and the
  purifier their shadow desires.
Every few seconds one compact view is printed: top walkers, points credited today, air
grades, robots accepting, open alerts. `--demo-speed 60` runs a simulated day in 24 minutes
(only the shapes follow the simulated clock; messages carry the real time).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.dev_issuer import ensure_issuer
from infra.local.stack import ROOT
from iot.agents import DeviceConfig, RobotAgent
from iot.device import stack_connection
from iot.outbox import Outbox
from iot.simulators import KST, Bins, DepositMix, SimClock, Walker, make_walkers

DEMO_DISTRICTS = ["naeoe-dong", "buwon-dong", "jangyu1-dong", "hoehyeon-dong"]
WALKERS = 8
RECYCLERS = 300
DEPOSIT_EVERY_S = 2.5  # real seconds between a robot's deposits (when a citizen is there)
STEPS_EVERY_S = 4.0
VIEW_EVERY_S = 5.0
KPIS_EVERY_S = 60.0
"""The demo fires the KPIs' schedule (every 15 minutes in AWS) this often, first soon after
it starts, so `GET /v1/kpis` shows the demo's figures within a minute or two."""
KPIS_FIRST_S = 20.0
OPERATOR = "demo-operator"


def _path(value: str) -> str:
    return value if Path(value).is_absolute() else str(ROOT / value)


def device_config(stack: dict[str, Any], device_id: str, device_type: str, **extra: Any) -> Any:
    """A device's agent configuration from stack.json (the demo's devices are the fleet's)."""
    conn = stack_connection(stack, device_id, _path)
    return DeviceConfig(device_id=device_id, device_type=device_type, **conn, **extra)


@dataclass
class Tally:
    """What the robots' screens showed, for the view."""

    credited: int = 0
    rejected: int = 0
    points: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_ack(self, ack: dict[str, Any]) -> None:
        with self.lock:
            if ack.get("status") == "credited":
                self.credited += 1
                self.points += int(ack.get("points") or 0)
            elif ack.get("status") == "rejected":
                self.rejected += 1
                reason = str(ack.get("reason"))
                self.reasons[reason] = self.reasons.get(reason, 0) + 1


class Demo:
    def __init__(
        self, stack: dict[str, Any], state_dir: Path, speed: float = 60.0, seed: int | None = None
    ) -> None:
        self._stack = stack
        self._state_dir = Path(state_dir)
        self._issuer = ensure_issuer(state_dir)
        self._stop = threading.Event()
        # the simulated day starts at dawn, so the morning walk and rush hour come first
        dawn = dt.datetime.now(KST).replace(hour=6, minute=30, second=0, microsecond=0)
        self.clock = SimClock(speed, start=dawn)
        self._rng = random.Random(seed)
        self.tally = Tally()
        self.robots: list[RobotAgent] = []
        self._bins: dict[str, Bins] = {}
        self.walkers: list[Walker] = make_walkers(DEMO_DISTRICTS, WALKERS, self._rng)
        self._mix = DepositMix(rng=self._rng)
        self._threads: list[threading.Thread] = []
        self._registered: set[int] = set()
        self.views = 0
        self.errors: list[str] = []

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        for walker in self.walkers:
            self._api(
                "PUT",
                "/v1/me",
                walker.citizen_id,
                {"display_name": walker.display_name, "district": walker.district},
            )
            self._prove_phone(walker.citizen_id, self._phone(walker))
        devices = self._stack["mqtt"]["devices"]
        outboxes = self._state_dir / "demo"
        for device_id in sorted(devices):
            if device_id.startswith("robot-"):
                config = device_config(self._stack, device_id, "robot")
                agent = RobotAgent(
                    config,
                    outbox=Outbox(outboxes / f"{device_id}.sqlite"),
                    on_ack=self.tally.on_ack,
                    heartbeat_s=10.0,
                )
                agent.start()
                self.robots.append(agent)
                # one robot starts nearly full, so a newcomer sees a full bin and its
                # emptying (twenty simulated minutes later) within the first minutes
                start = 0.75 if not self._bins else 0.2
                self._bins[device_id] = Bins(
                    rng=self._rng,
                    levels={"can": start, "pet": 0.3},
                    per_item=0.012,
                    empty_after_h=1 / 3,
                )
        from infra.local.demo_shelters import DemoShelters

        self.shelters = DemoShelters(self._stack, self.clock, self._rng, _path)
        self.shelters.start()
        for target, name in (
            (self._robots_loop, "demo-robots"),
            (self._walkers_loop, "demo-walkers"),
            (self._view_loop, "demo-view"),
            (self._kpis_loop, "demo-kpis"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        print(
            f"demo: {len(self.walkers)} citizens, {len(self.robots)} robots, "
            f"{len(self.shelters.agents)} shelters; a simulated day every "
            f"{24 * 60 / self.clock.speed:.0f} min (--demo-speed {self.clock.speed:g})",
            flush=True,
        )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        if getattr(self, "shelters", None) is not None:
            self.shelters.stop()
        for robot in self.robots:
            robot.stop()

    # citizens at the robots ----------------------------------------------------------------

    def _robots_loop(self) -> None:
        last = time.monotonic()
        next_deposit = {
            r.device_id: time.monotonic() + self._rng.uniform(0, 1) for r in self.robots
        }
        while not self._stop.wait(0.25):
            now = time.monotonic()
            elapsed_h = self.clock.sim_seconds(now - last) / 3600
            last = now
            for robot in self.robots:
                bins = self._bins[robot.device_id]
                was_accepting = bins.accepting
                bins.tend(elapsed_h)
                if now >= next_deposit[robot.device_id]:
                    next_deposit[robot.device_id] = now + self._rng.uniform(
                        0.5 * DEPOSIT_EVERY_S, 1.5 * DEPOSIT_EVERY_S
                    )
                    if bins.accepting:
                        try:
                            self._deposit(robot, bins)
                        except urllib.error.URLError as e:
                            self._error(f"{robot.device_id}: the API did not answer ({e})")
                robot.bins = dict(bins.levels)
                if bins.accepting != was_accepting:
                    robot.beat_now()  # full or emptied: operators should know at once

    def _deposit(self, robot: RobotAgent, bins: Bins) -> None:
        citizen_id, phone = self._recycler()
        citizen: dict[str, str] = {"phone": phone}
        if self._mix.uses_code():
            try:
                code = self._api("POST", "/v1/me/deposit-codes", citizen_id, None)
                citizen = {"code": str(code["code"])}
            except (urllib.error.URLError, KeyError, TypeError):
                pass  # the app limits codes per citizen: the phone number does
        items = self._mix.items()
        bins.add(items)
        robot.deposit(citizen, items)

    def _recycler(self) -> tuple[str, str]:
        """Who comes to the robot: a walker now and then, mostly one of a few hundred
        neighbours (registered on their first visit). A citizen's items per Seoul day are
        limited (daily_limit), and at 60x a real day holds 60 simulated ones: a large
        pool keeps an hour-long demo crediting."""
        if self._rng.random() < 0.2:
            walker = self._rng.choice(self.walkers)
            return walker.citizen_id, self._phone(walker)
        n = self._rng.randint(1, RECYCLERS)
        citizen_id, phone = f"demo-neighbour-{n:03d}", f"010-7100-{n:04d}"
        if n not in self._registered:
            self._api(
                "PUT",
                "/v1/me",
                citizen_id,
                {"display_name": f"이웃{n}", "district": self._rng.choice(DEMO_DISTRICTS)},
            )
            self._prove_phone(citizen_id, phone)
            self._registered.add(n)
        return citizen_id, phone

    def _prove_phone(self, citizen_id: str, phone: str) -> None:
        """Link the number as a citizen does: the SMS code read from the local outbox (once:
        a restarted demo finds its citizens linked from the last run)."""
        from infra.local import outbox

        if self._api("GET", "/v1/me", citizen_id, None).get("phone_linked"):
            return

        def call(method: str, path: str, body: dict[str, Any]) -> Any:
            return self._api(method, path, citizen_id, body)

        outbox.prove_phone(call, self._state_dir, phone)

    @staticmethod
    def _phone(walker: Walker) -> str:
        return f"010-7000-{int(walker.citizen_id.rsplit('-', 1)[1]):04d}"

    # walkers -------------------------------------------------------------------------------

    def _walkers_loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(STEPS_EVERY_S):
            now = time.monotonic()
            elapsed_h = self.clock.sim_seconds(now - last) / 3600
            last = now
            today = dt.datetime.now(KST).date().isoformat()  # the API judges real days
            for walker in self.walkers:
                steps = walker.advance(today, self.clock.hour(), elapsed_h, self._rng)
                if not steps:
                    continue
                try:
                    self._api(
                        "PUT",
                        "/v1/me/steps",
                        walker.citizen_id,
                        {"days": [{"date": today, "steps": steps}]},
                    )
                except urllib.error.URLError as e:
                    self._error(f"steps of {walker.citizen_id}: {e}")

    # the view ------------------------------------------------------------------------------

    def _view_loop(self) -> None:
        while not self._stop.wait(VIEW_EVERY_S):
            try:
                print(self.view(), flush=True)
                self.views += 1
            except (urllib.error.URLError, KeyError, TypeError, ValueError) as e:
                self._error(f"view: {e}")

    def _kpis_loop(self) -> None:
        from infra.local.scheduler import request_fire

        wait = KPIS_FIRST_S
        while not self._stop.wait(wait):
            wait = KPIS_EVERY_S
            try:
                answer = request_fire(self._state_dir, "kpi_refresh", timeout=KPIS_EVERY_S)
            except (TimeoutError, KeyError) as e:
                self._error(f"kpis: {e}")
                continue
            if not answer.get("ok"):
                self._error(f"kpis: {answer.get('error')}")

    def view(self) -> str:
        walker = self.walkers[0].citizen_id
        board = self._api("GET", "/v1/leaderboards/steps?limit=3", walker, None)
        stats = self._api("GET", "/v1/admin/stats", OPERATOR, None, admin=True)
        shelters = self._api("GET", "/v1/shelters", None, None)["shelters"]
        robots = self._api("GET", "/v1/robots", None, None)["robots"]
        devices = self._api("GET", "/v1/admin/devices", OPERATOR, None, admin=True)["devices"]
        top = " · ".join(f"{e['display_name']} {e['steps']:,}" for e in board["entries"]) or "-"
        air = " ".join(
            f"{s['device_id']}={s['air']['grade'] or '?'}"
            + (f"({s['air']['pm10']:.0f})" if s["air"]["pm10"] is not None else "")
            for s in shelters
        )
        accepting = sum(1 for r in robots if r["accepting"])
        alerts = [f"{d['device_id']}:{a['kind']}" for d in devices for a in d["open_alerts"]]
        # an open air episode shows as the purifier the cloud desires on high
        alerts += [
            f"{s['device_id']}:air"
            for s in shelters
            if s["purifier"]["desired"] == "high" and f"{s['device_id']}:air" not in alerts
        ]
        with self.tally.lock:
            tally = f"{self.tally.credited} credited / {self.tally.rejected} rejected"
        sim = self.clock.now().strftime("%H:%M")
        return (
            f"[demo sim {sim}] points today {stats['today']['points_issued']:,} ({tally})"
            f" | top {top}\n"
            f"[demo sim {sim}] air {air} | robots accepting {accepting}/{len(robots)}"
            f" | alerts {len(alerts)}{' ' + ', '.join(alerts[:4]) if alerts else ''}"
        )

    # plumbing ------------------------------------------------------------------------------

    def _error(self, message: str) -> None:
        self.errors.append(message)
        print(f"demo: {message}", flush=True)

    def _api(self, method: str, path: str, sub: str | None, body: Any, admin: bool = False) -> Any:
        headers = {"content-type": "application/json"}
        if sub is not None:
            # a fresh token each time: the demo may run longer than a token lives
            headers["authorization"] = f"Bearer {self._issuer.mint(sub, admin=admin)}"
        request = urllib.request.Request(
            self._stack["api_url"] + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
