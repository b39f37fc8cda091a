"""Agents' pure parts: config files, backoff with jitter, and the simulators' shapes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from iot.agents import DeviceConfig, RobotAgent, ShelterAgent, backoff_delays
from iot.outbox import Outbox
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


# The agents' logic on a fake connection (no network) ----------------------------------------


class FakeClient:
    """Stands in for RobotClient/ShelterClient: records publishes, holds the callbacks."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.connected = False
        self.status_topic = f"gimhae/robots/{device_id}/status"
        self.deposits_topic = f"gimhae/robots/{device_id}/deposits"
        self.ack_topic = f"gimhae/robots/{device_id}/deposits/ack"
        self.sent: list[tuple[str, Any]] = []
        self.callbacks: dict[str, Any] = {}

    def connect(self, timeout: float = 10) -> None:
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def subscribe(self, topic: str, callback: Any, timeout: float = 10) -> None:
        self.callbacks[topic] = callback

    def publish_async(self, topic: str, payload: Any, qos: int = 1) -> None:
        self.sent.append((topic, payload))


def _config(tmp_path: Path, device_type: str, device_id: str) -> DeviceConfig:
    return DeviceConfig(
        device_id=device_id,
        device_type=device_type,
        host="127.0.0.1",
        port=1,
        ca_file=str(tmp_path / "ca.pem"),
        cert_file=str(tmp_path / "d.pem"),
        key_file=str(tmp_path / "d.key"),
    )


def _robot(tmp_path: Path, acks: list[dict[str, Any]]) -> tuple[RobotAgent, FakeClient]:
    agent = RobotAgent(
        _config(tmp_path, "robot", "robot-9"),
        outbox=Outbox(tmp_path / "o.sqlite"),
        on_ack=acks.append,
        resend_after_s=60,
    )
    fake = FakeClient("robot-9")
    agent.client = fake  # type: ignore[assignment]
    return agent, fake


def _deposits_sent(fake: FakeClient) -> list[str]:
    return [p["event_id"] for t, p in fake.sent if t == fake.deposits_topic]


def test_a_robot_sends_what_its_outbox_holds_once_connected_and_resends_after_a_reconnect(
    tmp_path: Path,
) -> None:
    acks: list[dict[str, Any]] = []
    agent, fake = _robot(tmp_path, acks)
    # GIVEN two deposits taken while offline
    first = agent.deposit({"phone": "010-0000-0001"}, [{"material": "can", "accepted": 1}])
    second = agent.deposit({"phone": "010-0000-0001"}, [{"material": "pet", "accepted": 2}])
    agent.tick()
    assert _deposits_sent(fake) == []
    # WHEN the robot connects
    fake.connect()
    agent.on_connect()
    agent.tick()
    # THEN both go out, in order, and not again before their resend is due
    assert _deposits_sent(fake) == [first, second]
    agent.tick()
    assert _deposits_sent(fake) == [first, second]
    # WHEN the first is acked (twice: a resend's `duplicate`), then the link drops and returns
    on_ack = fake.callbacks[fake.ack_topic]
    on_ack(fake.ack_topic, json.dumps({"event_id": first, "status": "credited"}).encode())
    on_ack(fake.ack_topic, json.dumps({"event_id": first, "status": "duplicate"}).encode())
    agent.on_reconnect()
    agent.tick()
    # THEN the screen got the first ack once, and only the unacked deposit is resent
    assert acks == [{"event_id": first, "status": "credited"}]
    assert _deposits_sent(fake) == [first, second, second]


def test_a_robot_restarted_on_its_outbox_resends_with_the_same_event_id(tmp_path: Path) -> None:
    agent, _ = _robot(tmp_path, [])
    event_id = agent.deposit({"code": "123456"}, [{"material": "can", "accepted": 1}])
    agent.outbox.close()
    # a new process on the same outbox file
    again, fake = _robot(tmp_path, [])
    fake.connect()
    again.on_connect()
    again.tick()
    assert _deposits_sent(fake) == [event_id]


def test_unreadable_or_anonymous_acks_change_nothing(tmp_path: Path) -> None:
    acks: list[dict[str, Any]] = []
    agent, fake = _robot(tmp_path, acks)
    agent.deposit({"code": "123456"}, [{"material": "can", "accepted": 1}])
    fake.connect()
    agent.on_connect()
    on_ack = fake.callbacks[fake.ack_topic]
    on_ack(fake.ack_topic, b"{not json")
    on_ack(fake.ack_topic, b'{"event_id": null, "status": "rejected"}')
    assert acks == [] and agent.outbox.counts() == (1, 0)


def test_the_heartbeat_carries_the_bins_and_goes_out_at_once_on_a_change(tmp_path: Path) -> None:
    agent, fake = _robot(tmp_path, [])
    fake.connect()
    agent._maybe_beat()
    agent._maybe_beat()  # not due again yet
    agent.bins = {"can": 0.95, "pet": 0.2}
    agent.beat_now()
    agent._maybe_beat()
    beats = [p for t, p in fake.sent if t == fake.status_topic]
    assert len(beats) == 2
    assert beats[1]["bins"] == {"can": 0.95, "pet": 0.2} and beats[1]["online"] is True


def test_a_shelter_runs_the_desired_purifier_and_reports_it(tmp_path: Path) -> None:
    modes: list[str] = []
    agent = ShelterAgent(_config(tmp_path, "shelter", "shelter-9"), on_purifier=modes.append)
    fake = FakeClient("shelter-9")
    agent.client = fake  # type: ignore[assignment]
    agent.on_connect()
    shadow = "$aws/things/shelter-9/shadow"
    assert (f"{shadow}/get", b"{}") in fake.sent  # asks for what it missed
    # a delta: run it and report it
    fake.callbacks[f"{shadow}/update/delta"](
        f"{shadow}/update/delta", b'{"state": {"purifier": "high"}, "version": 3}'
    )
    # the document on connect: desired already reported -> nothing to do
    fake.callbacks[f"{shadow}/get/accepted"](
        f"{shadow}/get/accepted",
        b'{"state": {"desired": {"purifier": "high"}, "reported": {"purifier": "high"}}}',
    )
    # desired differs from reported -> apply
    fake.callbacks[f"{shadow}/get/accepted"](
        f"{shadow}/get/accepted",
        b'{"state": {"desired": {"purifier": "off"}, "reported": {"purifier": "high"}}}',
    )
    fake.callbacks[f"{shadow}/update/delta"](f"{shadow}/update/delta", b"garbage")
    reports = [p for t, p in fake.sent if t == f"{shadow}/update"]
    assert modes == ["high", "off"] and agent.purifier == "off"
    assert reports == [
        {"state": {"reported": {"purifier": "high"}}},
        {"state": {"reported": {"purifier": "off"}}},
    ]


def test_a_restarted_shelter_runs_what_its_shadow_desires(tmp_path: Path) -> None:
    # GIVEN a shelter that restarts (it runs nothing yet) whose shadow says desired high and
    # reported high (from before the restart)
    modes: list[str] = []
    agent = ShelterAgent(_config(tmp_path, "shelter", "shelter-9"), on_purifier=modes.append)
    fake = FakeClient("shelter-9")
    agent.client = fake  # type: ignore[assignment]
    agent.on_connect()
    shadow = "$aws/things/shelter-9/shadow"
    fake.callbacks[f"{shadow}/get/accepted"](
        f"{shadow}/get/accepted",
        b'{"state": {"desired": {"purifier": "high"}, "reported": {"purifier": "high"}}}',
    )
    # THEN it runs high, as the cloud desires
    assert modes == ["high"] and agent.purifier == "high"
