"""The console bench's logic (bench/city_seed.py, bench/console_city.py): the city it seeds
and the figures it reports. No browser and no stack here; nothing is timed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import city_seed, console_city, results
from chalicelib.domain import air, fleet
from chalicelib.domain.districts import city_bounds, districts
from chalicelib.domain.inbound import DeviceReport
from chalicelib.events import intake

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def city() -> city_seed.City:
    return city_seed.plan_city(now=NOW)


def test_the_city_is_a_thousand_devices_with_200_alerts(city: city_seed.City) -> None:
    counts = city.counts()
    assert (counts["shelters"], counts["robots"]) == (500, 500)
    assert counts["alerts"] == 200
    assert (counts["alerts_air"], counts["alerts_bin_full"], counts["alerts_fault"]) == (
        120,
        60,
        20,
    )
    ids = [d.spec.thing for d in city.devices]
    assert len(set(ids)) == 1000
    assert all(i.startswith(city_seed.PREFIX) for i in ids)


def test_devices_are_spread_over_the_districts_and_some_share_a_spot(city: city_seed.City) -> None:
    box = city_bounds()
    assert all(box.holds(d.spec.lat, d.spec.lon) for d in city.devices)
    used = Counter(d.spec.district for d in city.devices)
    assert set(used) == set(districts())  # every district has devices
    assert used["naeoe-dong"] > used["daedong-myeon"]  # the town more than the farmland
    spots = Counter((d.spec.lat, d.spec.lon) for d in city.devices)
    shared = {s: n for s, n in spots.items() if n > 1}
    assert len(shared) == city.shared_spots >= 50
    assert max(shared.values()) >= 3  # a station of three robots
    kinds_at = {s: {d.spec.device_type for d in city.devices if (d.spec.lat, d.spec.lon) == s}
                for s in list(shared)[:60]}  # fmt: skip
    assert any(k == {"shelter", "robot"} for k in kinds_at.values())  # a robot by a shelter


def test_the_same_seed_plans_the_same_city() -> None:
    one = city_seed.plan_city(20, 20, city_seed.AlertPlan(2, 1, 3, 1), now=NOW)
    two = city_seed.plan_city(20, 20, city_seed.AlertPlan(2, 1, 3, 1), now=NOW)
    assert one.devices == two.devices


def test_the_fleet_files_devices_leave_room_but_every_alert_is_planned() -> None:
    # A stack lists the fleet file's 2 shelters and 2 robots too: 498 + 498 of the city's.
    counts = city_seed.plan_city(498, 498, now=NOW).counts()
    assert (counts["shelters"], counts["robots"], counts["alerts"]) == (498, 498, 200)
    with pytest.raises(ValueError, match="needs more devices"):
        city_seed.plan_city(100, 100, now=NOW)


def test_each_message_opens_exactly_the_alert_planned(city: city_seed.City) -> None:
    """What the handler decides from each queued message: the intake takes it (no
    quarantine), a shelter's grade is bad or worse only when an air alert is planned, a
    robot's wanted alerts are the one planned."""
    received = NOW
    bodies = city_seed.queue_bodies(city.devices, received)
    for device, body in zip(city.devices, bodies, strict=True):
        report = intake.report(body, received)
        assert isinstance(report, DeviceReport), (device.spec.thing, report)
        assert (report.device_id, report.channel) == (device.spec.thing, device.channel)
        if device.spec.device_type == "shelter":
            assert isinstance(report.body, fleet.TelemetryMessage)
            reading = fleet.judge_reading(report.body, received)
            assert not air.implausible(reading)
            bad = reading.grade is not None and reading.grade.rank >= air.AirGrade.BAD.rank
            assert bad == (device.expect == "air"), device
        else:
            assert isinstance(report.body, fleet.StatusMessage)
            wanted = fleet.robot_wanted(fleet.judge_status(report.body, "robot", received))
            opened = {k for k, v in wanted.items() if v is not None}
            assert opened == ({device.expect} if device.expect else set()), device


def test_frame_intervals() -> None:
    stamps = [0.0, 16.7, 33.4, 50.1, 116.8, 133.5]  # one frame of 66.7 ms
    stats = console_city.frame_stats(stamps)
    assert stats["frames"] == 6
    assert stats["interval_ms_p50"] == 16.7
    assert stats["interval_ms_max"] == 66.7
    assert stats["frames_over_50ms"] == 1
    assert console_city.frame_stats([5.0]) == {"frames": 1, "intervals": 0}


def test_summary_and_percentile() -> None:
    assert console_city.summary([900.0, 1200.0, 1000.0]) == {
        "runs": 3,
        "min": 900.0,
        "median": 1000.0,
        "max": 1200.0,
    }
    assert console_city.percentile(list(map(float, range(1, 101))), 0.95) == 95.0


def test_scripts_loaded_counts_only_scripts() -> None:
    entries = [
        {"name": "http://127.0.0.1:8000/console/js/app.js", "transferSize": 1300,
         "encodedBodySize": 1000, "decodedBodySize": 1000},
        {"name": "http://127.0.0.1:8000/console/vendor/leaflet-1.9.4/leaflet.js?v=1",
         "transferSize": 150_300, "encodedBodySize": 150_000, "decodedBodySize": 150_000},
        {"name": "http://127.0.0.1:8000/console/css/app.css", "transferSize": 900,
         "encodedBodySize": 600, "decodedBodySize": 600},
        {"name": "http://127.0.0.1:8000/v1/shelters", "transferSize": 90_000,
         "encodedBodySize": 89_000, "decodedBodySize": 89_000},
    ]  # fmt: skip
    loaded = console_city.scripts_loaded(entries)
    assert (loaded["files"], loaded["transfer_bytes"], loaded["decoded_bytes"]) == (
        2,
        151_600,
        151_000,
    )
    assert loaded["largest"][0] == (150_000, "/console/vendor/leaflet-1.9.4/leaflet.js?v=1")


def test_scripts_on_disk(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("export const a = 1;\n" * 100)
    (tmp_path / "vendor" / "x-1.0").mkdir(parents=True)
    (tmp_path / "vendor" / "x-1.0" / "x.mjs").write_text("x")
    (tmp_path / "index.html").write_text("<!doctype html>")
    on_disk = console_city.scripts_on_disk(tmp_path)
    assert (on_disk["files"], on_disk["bytes"]) == (2, 2001)
    assert 0 < on_disk["gzip_bytes"] < on_disk["bytes"]


def test_the_verdict_holds_the_issues_budgets() -> None:
    fast = {"interactive_ms": {"median": 1400.0}, "scripts_loaded": {"decoded_bytes": 300_000}}
    assert console_city.verdict(fast)["interactive_within_1500ms"] is True
    assert console_city.verdict(fast)["js_under_400kib"] is True
    slow = {"interactive_ms": {"median": 1600.0}, "scripts_loaded": {"decoded_bytes": 500_000}}
    assert console_city.verdict(slow)["interactive_within_1500ms"] is False
    assert console_city.verdict(slow)["js_under_400kib"] is False


def test_only_local_requests_are_local() -> None:
    assert console_city._local("http://127.0.0.1:8100/console/js/app.js")
    assert console_city._local("data:image/png;base64,AAAA")
    assert not console_city._local("https://tile.openstreetmap.org/1/1/1.png")
    assert not console_city._local("https://fonts.googleapis.com/css")


def test_the_console_section_is_written_last_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    results.write(path, {"machine": {"date": "then"}, "cold_start": {"import_app_ms_median": 1}})
    before = path.read_text()
    measured = {
        "interactive_ms": {"runs": 3, "min": 900.0, "median": 1000.0, "max": 1200.0},
        "scripts_loaded": {"decoded_bytes": 300_000},
        "verdict": console_city.verdict(
            {"interactive_ms": {"median": 1000.0}, "scripts_loaded": {"decoded_bytes": 300_000}}
        ),
    }
    results.record_console(path, measured)
    text = path.read_text()
    assert text.split("## 6.")[0] == before.split("## 6.")[0]  # sections 1-5 as they were
    section = text.split("## 6. The operators' console with a whole city", 1)[1]
    assert "Method: `python -m bench --console`" in section
    assert "| interactive_within_1500ms | True |" in section
    assert '"median": 1000.0' in section
    assert text.count("## 6.") == 1
    results.record_console(path, measured, note="Measured on the city-pages branch.")
    again = path.read_text()  # replaced, not added
    assert again.count("## 6.") == 1
    assert "\n\nMeasured on the city-pages branch.\n\nMethod:" in again


def test_api_calls_say_when_each_answer_came() -> None:
    entries = [
        {"name": "http://127.0.0.1:8000/console/js/app.js", "startTime": 20.0, "responseEnd": 40.0},
        {"name": "http://127.0.0.1:8000/v1/shelters", "startTime": 210.4, "responseEnd": 1050.6},
        {"name": "http://127.0.0.1:8000/v1/admin/stats", "startTime": 212.0, "responseEnd": 260.0},
    ]
    calls = console_city.api_calls(entries)
    assert calls["last_api_response_ms"] == 1050.6
    assert calls["api_ms"] == {"/v1/shelters": [210, 1051], "/v1/admin/stats": [212, 260]}
    assert console_city.api_calls([])["last_api_response_ms"] is None
