"""`up --demo`, the shelters: each is a ShelterAgent (iot/agents.py) on its own certificate.

Telemetry every few seconds from the simulated day's dust curve (iot/simulators.py), with
bad-air episodes; the first shelter starts in one, so a newcomer sees within a minute the
grade turn bad, the operators' alert, and the purifier the cloud desires through the shadow,
applied by the shelter and reported back.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from iot.agents import DeviceConfig, ShelterAgent
from iot.device import stack_connection
from iot.simulators import DustModel, SimClock, shelter_readings

TELEMETRY_EVERY_S = 3.0


class DemoShelters:
    def __init__(
        self,
        stack: dict[str, Any],
        clock: SimClock,
        rng: random.Random,
        resolve: Callable[[str], str],
    ) -> None:
        self._stack = stack
        self._clock = clock
        self._rng = rng
        self._resolve = resolve
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-shelters", daemon=True)
        self.agents: list[ShelterAgent] = []
        self._dust: dict[str, DustModel] = {}

    def start(self) -> None:
        for device_id in sorted(self._stack["mqtt"]["devices"]):
            if not device_id.startswith("shelter-"):
                continue
            conn = stack_connection(self._stack, device_id, self._resolve)
            agent = ShelterAgent(
                DeviceConfig(device_id=device_id, device_type="shelter", **conn),
                on_purifier=self._announce(device_id),
                heartbeat_s=30.0,
            )
            agent.start()
            self.agents.append(agent)
            dust = DustModel(rng=self._rng)
            if not self._dust:  # the first shelter starts in a bad-air episode
                dust.episode_left_h, dust.episode_extra = 1.5, 120.0
            self._dust[device_id] = dust
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for agent in self.agents:
            agent.stop()

    @staticmethod
    def _announce(device_id: str) -> Callable[[str], None]:
        def on_purifier(mode: str) -> None:
            print(f"demo: {device_id} runs its purifier {mode!r} (shadow desired)", flush=True)

        return on_purifier

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(TELEMETRY_EVERY_S):
            now = time.monotonic()
            elapsed_h = self._clock.sim_seconds(now - last) / 3600
            last = now
            for agent in self.agents:
                if agent.connected:
                    readings = shelter_readings(
                        self._dust[agent.device_id], self._clock.hour(), elapsed_h, self._rng
                    )
                    agent.telemetry(readings)
