"""`up --demo`, shelters and robots' status: the fleet's side of the demo.

Each shelter connects with its own certificate, publishes telemetry every few seconds (dust
that wanders and now and then turns bad, so the alert, the purifier's shadow and the clearing
ten minutes later can be watched) and runs what its shadow desires, reporting it back. Robots
publish their bin levels, which fill up and are emptied.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Any

from iot.device import DeviceError, RobotClient, ShelterClient, stack_connection

PERIOD_S = 5.0


class DemoFleet:
    def __init__(self, stack: dict[str, Any], resolve: Any) -> None:
        self._stack = stack
        self._resolve = resolve
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-fleet", daemon=True)
        self._shelters: list[ShelterClient] = []
        self._robots: list[RobotClient] = []

    def start(self, robots: list[RobotClient]) -> None:
        self._robots = robots
        for device_id in self._stack["mqtt"]["devices"]:
            if not device_id.startswith("shelter-"):
                continue
            shelter = ShelterClient(
                device_id, **stack_connection(self._stack, device_id, self._resolve)
            )
            shelter.connect()
            shelter.subscribe(f"$aws/things/{device_id}/shadow/update/delta", self._follow(shelter))
            self._shelters.append(shelter)
        print(f"demo: {len(self._shelters)} shelters", flush=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for shelter in self._shelters:
            shelter.disconnect()

    @staticmethod
    def _follow(shelter: ShelterClient) -> Any:
        def on_delta(topic: str, payload: bytes) -> None:
            mode = json.loads(payload).get("state", {}).get("purifier")
            if mode:
                print(f"demo: {shelter.device_id} runs its purifier {mode!r}", flush=True)
                # not publish(): waiting for the PUBACK here would block the client's thread
                shelter.publish_async(
                    f"$aws/things/{shelter.device_id}/shadow/update",
                    {"state": {"reported": {"purifier": mode}}},
                )

        return on_delta

    def _run(self) -> None:
        rng = random.Random()
        dust = {s.device_id: 20.0 for s in self._shelters}
        bins = {r.device_id: {"can": 0.1, "pet": 0.1} for r in self._robots}
        while not self._stop.wait(PERIOD_S):
            try:
                for shelter in self._shelters:
                    pm25 = dust[shelter.device_id] = max(
                        2.0, dust[shelter.device_id] + rng.gauss(0.5, 6.0)
                    )
                    shelter.telemetry(
                        {
                            "pm10": round(pm25 * 1.8, 1),
                            "pm25": round(pm25, 1),
                            "temp_c": round(rng.uniform(18, 24), 1),
                            "humidity": round(rng.uniform(35, 55), 1),
                            "co2_ppm": rng.randint(450, 900),
                            "occupancy": rng.randint(0, 8),
                            "chargers": {"total": 4, "in_use": rng.randint(0, 4)},
                        }
                    )
                    if pm25 > 90:
                        dust[shelter.device_id] = 10.0  # the purifier wins in the end
                for robot in self._robots:
                    levels = bins[robot.device_id]
                    for material in levels:
                        levels[material] = round(
                            min(1.0, levels[material] + rng.uniform(0, 0.05)), 2
                        )
                    robot.status(dict(levels))
                    if max(levels.values()) >= 0.95:  # an operator empties it
                        bins[robot.device_id] = {"can": 0.0, "pet": 0.0}
            except DeviceError as e:
                print(f"demo: {e}", flush=True)
