"""Agents' pure parts: config files, backoff with jitter, and the simulators' shapes."""

from __future__ import annotations

import json
import random
from pathlib import Path

from iot.agents import DeviceConfig, backoff_delays
from iot.simulators import Bins, DepositMix, DustModel, Walker


def test_a_device_config_resolves_paths_beside_it(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "device_id": "robot-101",
                "type": "robot",
                "host": "127.0.0.1",
                "port": 8883,
                "ca_file": "/etc/ca.pem",
                "cert_file": "device.pem",
                "key_file": "device.key",
                "outbox": "outbox.sqlite",
                "district": "naeoe-dong",
            }
        )
    )
    config = DeviceConfig.load(tmp_path / "config.json")
    assert config.cert_file == str(tmp_path / "device.pem")
    assert config.ca_file == "/etc/ca.pem"
    assert config.outbox == str(tmp_path / "outbox.sqlite")
    assert config.extra == {"district": "naeoe-dong"}


def test_backoff_grows_to_its_cap_with_full_jitter() -> None:
    delays = backoff_delays(0.5, 30.0, random.Random(7))
    first = [next(delays) for _ in range(12)]
    assert all(0 <= d <= 30.0 for d in first)
    assert first[0] <= 0.5
    later = [next(delays) for _ in range(200)]
    assert max(later) > 15  # the cap is reached...
    assert min(later) < 10  # ...but jittered, not in step


def test_the_dust_has_a_daily_shape_and_episodes() -> None:
    rng = random.Random(1)
    quiet = DustModel(rng=rng, episode_per_hour=0.0)
    night = sum(quiet.step(3.0, 0.1)[0] for _ in range(50)) / 50
    rush = sum(quiet.step(8.0, 0.1)[0] for _ in range(50)) / 50
    assert rush > night + 15
    stormy = DustModel(rng=random.Random(2), episode_per_hour=100.0)
    pm10, pm25 = stormy.step(3.0, 0.1)
    assert pm10 > 80 and 0 < pm25 < pm10  # a bad-air episode grades bad or worse


def test_the_deposit_mix_has_rejections_and_empty_deposits() -> None:
    mix = DepositMix(rng=random.Random(3))
    deposits = [mix.items() for _ in range(500)]
    assert any(all(i["accepted"] == 0 for i in d) for d in deposits)
    assert any(i["rejected"] for d in deposits for i in d)
    assert {i["material"] for d in deposits for i in d} == {"can", "pet"}
    uses = [mix.uses_code() for _ in range(500)]
    assert 0.4 < sum(uses) / 500 < 0.8


def test_a_full_bin_stops_accepting_until_emptied() -> None:
    bins = Bins(rng=random.Random(4))
    bins.add([{"material": "can", "accepted": 50, "rejected": 0}])
    assert not bins.accepting
    bins.tend(0.5)
    assert not bins.accepting
    bins.tend(0.6)
    assert bins.accepting


def test_a_walkers_steps_only_go_up_within_a_day() -> None:
    walker = Walker("c", "n", "naeoe-dong", 10_000)
    rng = random.Random(5)
    counts = [walker.advance("2026-11-25", h / 4, 0.25, rng) for h in range(96)]
    assert counts == sorted(counts) and 1_000 < counts[-1] <= 100_000
    assert walker.advance("2026-11-26", 0.0, 0.0, rng) == 0
