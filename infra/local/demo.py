"""`up --demo`: simulated robots and a demo citizen, so a newcomer sees the system live.

The demo citizen registers through the API with the dev issuer's token; robot-001 and
robot-002 connect with their own certificates and deposit cans and bottles every few seconds,
alternating a one-time code from the app and the citizen's phone number. Each ack is printed.
"""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.dev_issuer import ensure_issuer
from infra.local.stack import ROOT
from iot.device import DeviceError, RobotClient, new_event_id, stack_connection

DEMO_CITIZEN = "demo-citizen"
DEMO_PHONE = "010-0000-0001"
PERIOD_S = 3.0


class Demo:
    def __init__(self, stack: dict[str, Any], state_dir: Path) -> None:
        self._stack = stack
        self._issuer = ensure_issuer(state_dir)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo", daemon=True)
        self._robots: list[RobotClient] = []

    def start(self) -> None:
        self._api(
            "PUT",
            "/v1/me",
            {"display_name": "데모 시민", "district": "naeoe-dong", "phone": DEMO_PHONE},
        )
        mqtt = self._stack["mqtt"]
        for device_id in mqtt["devices"]:
            if not device_id.startswith("robot-"):
                continue
            robot = RobotClient(device_id, **stack_connection(self._stack, device_id, _path))
            robot.connect()
            self._robots.append(robot)
        print(f"demo: citizen {DEMO_CITIZEN!r} and {len(self._robots)} robots", flush=True)
        self._thread.start()
        from infra.local.demo_shelters import DemoFleet  # shelters, robots' status

        self._fleet = DemoFleet(self._stack, _path)
        self._fleet.start(self._robots)

    def stop(self) -> None:
        if getattr(self, "_fleet", None) is not None:
            self._fleet.stop()
        self._stop.set()
        self._thread.join(5)
        for robot in self._robots:
            robot.disconnect()

    def _run(self) -> None:
        rng = random.Random()
        turn = 0
        while not self._stop.wait(PERIOD_S):
            robot = self._robots[turn % len(self._robots)]
            citizen: dict[str, str] = {"phone": DEMO_PHONE}
            if turn % 2 == 0:
                try:
                    citizen = {"code": self._api("POST", "/v1/me/deposit-codes", None)["code"]}
                except urllib.error.HTTPError as e:  # 429: the app limits codes per citizen
                    print(f"demo: no code this time (HTTP {e.code}); using the phone number")
                except urllib.error.URLError as e:
                    print(f"demo: the API did not answer ({e.reason}); using the phone number")
            event = {
                "event_id": new_event_id(),
                "citizen": citizen,
                "items": [
                    {
                        "material": "can",
                        "accepted": rng.randint(0, 4),
                        "rejected": rng.randint(0, 1),
                    },
                    {"material": "pet", "accepted": rng.randint(1, 4), "rejected": 0},
                ],
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            try:
                ack = robot.deposit(event, timeout=10)
                print(
                    f"demo: {robot.device_id} -> {json.dumps(ack, ensure_ascii=False)}", flush=True
                )
            except DeviceError as e:
                print(f"demo: {robot.device_id}: {e}", flush=True)
            turn += 1

    def _api(self, method: str, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self._stack["api_url"] + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "content-type": "application/json",
                # A fresh token each time: the demo may run longer than a token lives.
                "authorization": f"Bearer {self._issuer.mint(DEMO_CITIZEN)}",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def _path(value: str) -> str:
    return value if Path(value).is_absolute() else str(ROOT / value)
