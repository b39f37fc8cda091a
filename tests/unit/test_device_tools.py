"""The device tools' parsing and checks (`python -m iot`): deposit lines, device details and
CSV files, topics and payloads, shelter scenarios, the identity lock, one spelling of the
options. No network."""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.domain.air import AirGrade, grade
from iot import cli
from iot.__main__ import _parser, main
from iot.agents import DeviceConfig
from iot.deposit_lines import DepositLineError, parse_deposit_line
from iot.device_lock import DeviceBusyError, DeviceLock
from iot.provisioning import DEFAULT_LOCATION, SpecError, make_spec, read_csv
from iot.simulators import DUST_SPIKE, ShelterScenario

# ---------------------------------------------------------------- deposit lines


def test_a_short_deposit_line_names_the_citizen_and_counts() -> None:
    typed = parse_deposit_line("phone 010-1234-5678 can=3 pet=2/1")
    assert typed is not None
    assert typed.citizen == {"phone": "010-1234-5678"}
    assert typed.items == [
        {"material": "can", "accepted": 3, "rejected": 0},
        {"material": "pet", "accepted": 2, "rejected": 1},
    ]
    assert typed.occurred_at is None and typed.event_id is None


def test_a_short_line_takes_a_time_and_an_event_id() -> None:
    typed = parse_deposit_line("code 482913 can=1 at=2026-11-25T10:15:00+09:00 id=evt-00000001")
    assert typed is not None
    assert typed.citizen == {"code": "482913"}
    assert (typed.occurred_at, typed.event_id) == ("2026-11-25T10:15:00+09:00", "evt-00000001")


def test_a_json_line_is_a_deposit_as_design_has_it() -> None:
    doc = {"citizen": {"code": "482913"}, "items": [{"material": "can", "accepted": 3}]}
    typed = parse_deposit_line(json.dumps(doc))
    assert typed is not None
    assert (typed.citizen, typed.items) == (doc["citizen"], doc["items"])


@pytest.mark.parametrize("text", ["", "   ", "# a comment", "\n"])
def test_blank_lines_and_comments_are_no_deposit(text: str) -> None:
    assert parse_deposit_line(text) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("can=3", "phone NUMBER"),
        ("email a@b can=1", "phone NUMBER"),
        ("phone", "phone NUMBER"),
        ("phone 010-1234-5678", "no items"),
        ("phone 010-1234-5678 can", "MATERIAL=COUNT"),
        ("phone 010-1234-5678 can=", "MATERIAL=COUNT"),
        ("phone 010-1234-5678 can=-1", "whole numbers"),
        ("phone 010-1234-5678 can=1.5", "whole numbers"),
        ("phone 010-1234-5678 can=99999", "whole numbers"),
        ("phone 010-1234-5678 can=1 can=2", "twice"),
        ("phone 010-1234-5678 Can=1", "material name"),
        ("phone 010-1234-5678 캔=1", "material name"),
        ("phone 010-1234-5678 can=1 at=yesterday", "RFC 3339"),
        ("phone 010-1234-5678 can=1 at=2026-11-25T10:15:00", "offset"),
        ("phone 010-1234-5678 can=1 id=short", "8-64"),
        ("{not json", "not JSON"),
        ("[1, 2]", "phone NUMBER"),
        ('{"citizen": "010", "items": []}', '"citizen"'),
        ('{"citizen": {"phone": 1}, "items": []}', '"citizen"'),
        ('{"citizen": {"code": "1"}, "items": {}}', '"items"'),
        ('{"citizen": {"code": "1"}, "items": [], "occurred_at": 5}', "occurred_at"),
        ('{"citizen": {"code": "1"}, "items": [], "event_id": 5}', "event_id"),
    ],
)
def test_what_is_not_a_deposit_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(DepositLineError, match=says):
        parse_deposit_line(text)


# ---------------------------------------------------------------- device details, CSV


def test_a_device_gets_its_name_district_and_place() -> None:
    spec = make_spec("shelter-101", "shelter", "봉황동 쉼터", "hoehyeon-dong", 35.2318, 128.8805)
    row = spec.registry_row()
    assert row == {
        "device_id": "shelter-101",
        "type": "shelter",
        "name": "봉황동 쉼터",
        "district": "hoehyeon-dong",
        "location": {"lat": 35.2318, "lon": 128.8805},
    }


def test_without_details_a_device_is_named_by_its_id_at_yeonji_park() -> None:
    row = make_spec("robot-101", "robot").registry_row()
    assert row["name"] == "robot-101" and row["district"] == "naeoe-dong"
    assert row["location"] == DEFAULT_LOCATION


@pytest.mark.parametrize(
    ("details", "says"),
    [
        ({"thing": "robot 101"}, "thing"),
        ({"thing": "robot/101"}, "thing"),
        ({"thing": ""}, "thing"),
        ({"thing": "r" * 129}, "thing"),
        ({"device_type": "drone"}, "type"),
        ({"name": "  "}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"district": "gangnam-gu"}, "district"),
        ({"district": "Naeoe-dong"}, "district"),
        ({"lat": 35.24}, "both"),
        ({"lon": 128.87}, "both"),
        ({"lat": "north", "lon": 128.87}, "numbers"),
        ({"lat": math.nan, "lon": 128.87}, "latitude"),
        ({"lat": 35.24, "lon": math.inf}, "longitude"),
        ({"lat": 95.0, "lon": 128.87}, "latitude"),
        ({"lat": 35.24, "lon": 200.0}, "longitude"),
        ({"lat": 37.5665, "lon": 126.978}, "not in the city"),  # Seoul
        ({"lat": 128.87, "lon": 35.24}, "latitude"),  # swapped
        ({"lat": 53.24, "lon": 128.87}, "not in the city"),  # a digit typo
    ],
)
def test_wrong_details_are_refused_with_what_is_wrong(details: dict, says: str) -> None:
    given = {"thing": "shelter-101", "device_type": "shelter", **details}
    with pytest.raises(SpecError, match=says):
        make_spec(**given)


def test_every_problem_of_a_device_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as caught:
        make_spec("bad id", "drone", district="nowhere")
    assert all(word in str(caught.value) for word in ("thing", "type", "district"))


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "devices.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_file_provisions_many_devices(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "thing,type,name,district,lat,lon\n"
        "shelter-201,shelter,장유 쉼터,jangyu1-dong,35.1960,128.8080\n"
        "robot-201,robot,,,,\n"
        "\n",
    )
    first, second = read_csv(path)
    assert (first.thing, first.name, first.district) == ("shelter-201", "장유 쉼터", "jangyu1-dong")
    assert (first.lat, first.lon) == (35.196, 128.808)
    assert (second.thing, second.name, second.district) == ("robot-201", None, "naeoe-dong")


def test_a_csv_file_is_checked_whole_with_line_numbers(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "thing,type,name,district,lat,lon\n"
        "shelter-201,shelter,a,jangyu1-dong,35.19,128.80\n"
        "shelter-202,shelter,b,nowhere,35.19,128.80\n"
        "shelter-201,shelter,c,jangyu1-dong,35.19,128.80\n"
        "robot-202,robot,d,naeoe-dong,1,2,3\n",
    )
    with pytest.raises(SpecError) as caught:
        read_csv(path)
    message = str(caught.value)
    assert f"{path}:3: district" in message
    assert f"{path}:4: shelter-201 is listed twice" in message
    assert f"{path}:5: more fields" in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("id,kind\nrobot-1,robot\n", "header"),
        ("thing,type,colour\nrobot-1,robot,red\n", "header"),
        ("thing,type\n", "no devices"),
        ("", "header"),
    ],
)
def test_a_csv_file_without_the_columns_is_refused(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(SpecError, match=says):
        read_csv(_csv(tmp_path, text))


def test_a_csv_file_that_is_not_utf8_or_missing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_bytes("thing,type,name\nrobot-1,robot,회수로봇\n".encode("euc-kr"))
    with pytest.raises(SpecError, match="UTF-8"):
        read_csv(path)
    with pytest.raises(SpecError, match="No such file"):
        read_csv(tmp_path / "none.csv")


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_bytes("\ufeffthing,type\nrobot-1,robot\n".encode())
    assert [s.thing for s in read_csv(path)] == ["robot-1"]


def test_bad_details_exit_with_2_before_anything_is_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    details = ["--thing", "shelter-9", "--type", "shelter", "--district", "gangnam-gu"]
    code = main(["provision", *details, "--state-dir", str(tmp_path)])
    assert code == cli.EXIT_USAGE
    assert "district 'gangnam-gu'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    assert main(["provision", "--state-dir", str(tmp_path)]) == cli.EXIT_USAGE
    assert "--thing and --type" in capsys.readouterr().err


def test_csv_and_one_device_are_not_mixed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provision", "--csv", "x.csv", "--thing", "robot-1"]) == cli.EXIT_USAGE
    assert "--csv names every device" in capsys.readouterr().err


# ---------------------------------------------------------------- topics and payloads


def _config(device_type: str = "shelter", device_id: str = "shelter-101") -> DeviceConfig:
    return DeviceConfig(device_id, device_type, "127.0.0.1", 8883, "ca", "cert", "key")


@pytest.mark.parametrize(
    ("kind", "name", "topic"),
    [
        ("shelter", "telemetry", "gimhae/shelters/shelter-101/telemetry"),
        ("shelter", "status", "gimhae/shelters/shelter-101/status"),
        ("robot", "deposits", "gimhae/robots/robot-101/deposits"),
        ("robot", "status", "gimhae/robots/robot-101/status"),
        ("shelter", "shadow/update", "$aws/things/shelter-101/shadow/update"),
        ("shelter", "events/door", "gimhae/shelters/shelter-101/events/door"),
        ("robot", "/events/", "gimhae/robots/robot-101/events"),
        (
            "shelter",
            "gimhae/shelters/shelter-002/telemetry",
            "gimhae/shelters/shelter-002/telemetry",
        ),
    ],
)
def test_a_topic_name_is_the_devices_own_topic(kind: str, name: str, topic: str) -> None:
    assert cli.topic_for(_config(kind, f"{kind}-101"), name) == topic


@pytest.mark.parametrize("name", ["", "  ", "gimhae/shelters/+/telemetry", "a/#", "a\x00b"])
def test_a_wildcard_or_empty_topic_is_refused(name: str) -> None:
    with pytest.raises(cli.UsageError):
        cli.topic_for(_config(), name)


def test_telemetry_gets_a_time_when_it_has_none() -> None:
    body, doc = cli.prepare_payload(b'{"pm10": 160}', "gimhae/shelters/s/telemetry", False)
    assert doc["pm10"] == 160 and doc["ts"].endswith("+09:00")
    assert json.loads(body) == doc
    _, kept = cli.prepare_payload(b'{"ts": "T"}', "gimhae/shelters/s/telemetry", False)
    assert kept == {"ts": "T"}


def test_a_deposit_gets_an_event_id_and_a_time_when_it_has_none() -> None:
    _, doc = cli.prepare_payload(b'{"citizen": {"code": "1"}}', "gimhae/robots/r/deposits", False)
    assert len(doc["event_id"]) == 26 and doc["occurred_at"].endswith("+09:00")


def test_korean_text_is_sent_as_utf8_not_escaped() -> None:
    body, _ = cli.prepare_payload('{"note": "미세먼지"}'.encode(), "gimhae/x/y/events", False)
    assert "미세먼지".encode() in body


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{pm10: 1}", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"a": "' + b"x" * (128 * 1024) + b'"}', "limit"),
    ],
)
def test_a_payload_that_is_not_json_is_refused_unless_raw(raw: bytes, says: str) -> None:
    with pytest.raises(cli.UsageError, match=says):
        cli.prepare_payload(raw, "gimhae/shelters/s/telemetry", False)
    body, _ = cli.prepare_payload(raw, "gimhae/shelters/s/telemetry", True)
    assert body == raw


def test_the_payload_comes_from_the_argument_a_file_or_stdin(tmp_path: Path) -> None:
    file = tmp_path / "reading.json"
    file.write_text('{"pm10": 1}')
    assert cli.read_payload('{"a": 1}', None) == b'{"a": 1}'
    assert cli.read_payload(None, file) == b'{"pm10": 1}'
    assert cli.read_payload(None, None, io.StringIO('{"b": 2}')) == b'{"b": 2}'
    assert cli.read_payload("-", None, io.StringIO('{"c": 3}')) == b'{"c": 3}'
    with pytest.raises(cli.UsageError, match="not both"):
        cli.read_payload("{}", file)
    with pytest.raises(cli.UsageError, match="cannot read"):
        cli.read_payload(None, tmp_path / "none.json")


# ---------------------------------------------------------------- shelter scenarios


def _grades(readings: list[dict]) -> list[AirGrade | None]:
    return [grade(r["pm10"], r["pm25"]) for r in readings]


def test_a_dust_spike_rises_to_bad_and_very_bad_then_clears() -> None:
    scenario = ShelterScenario("dust-spike")
    grades = _grades([scenario.next() for _ in range(len(DUST_SPIKE) + 3)])
    assert grades[0] == AirGrade.GOOD
    assert AirGrade.BAD in grades and AirGrade.VERY_BAD in grades
    worst = grades.index(AirGrade.VERY_BAD)
    assert grades.index(AirGrade.BAD) < worst  # it rises through bad
    assert grades[-4:] == [AirGrade.GOOD] * 4  # and clears, and stays clear


def test_fixed_readings_override_the_scenario() -> None:
    scenario = ShelterScenario("calm", pm10=160.0, pm25=80.0)
    reading = scenario.next()
    assert (reading["pm10"], reading["pm25"]) == (160.0, 80.0)
    assert grade(reading["pm10"], reading["pm25"]) == AirGrade.VERY_BAD
    assert {"temp_c", "humidity", "co2_ppm", "occupancy", "chargers"} <= reading.keys()
    assert _grades([ShelterScenario("calm").next()]) == [AirGrade.GOOD]


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="dust-spike"):
        ShelterScenario("storm")


# ---------------------------------------------------------------- one identity, one process


def test_a_second_holder_of_a_device_identity_is_refused(tmp_path: Path) -> None:
    first = DeviceLock("robot-001", "127.0.0.1", 8883, tmp_path)
    second = DeviceLock("robot-001", "127.0.0.1", 8883, tmp_path)
    other_broker = DeviceLock("robot-001", "127.0.0.1", 9883, tmp_path)
    first.acquire()
    try:
        with pytest.raises(DeviceBusyError, match=r"robot-001 is already connected .*process"):
            second.acquire()
        other_broker.acquire()  # another local stack: another identity
    finally:
        first.release()
        other_broker.release()
    second.acquire()  # released: free again
    second.release()


def test_a_lock_left_by_a_killed_process_is_ignored(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from iot.device_lock import DeviceLock;"
            f"DeviceLock('robot-001', 'h', 1, Path({str(tmp_path)!r})).acquire();"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    lock = DeviceLock("robot-001", "h", 1, tmp_path)
    with pytest.raises(DeviceBusyError, match=f"process {holder.pid}"):
        lock.acquire()
    holder.kill()
    holder.wait(10)
    lock.acquire()  # the kernel dropped the dead holder's lock
    lock.release()


# ---------------------------------------------------------------- one spelling of options


def _subcommands() -> list[str]:
    actions = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


@pytest.mark.parametrize("command", ["provision", "publish", "deposit", "robot", "shelter"])
def test_every_command_takes_state_dir_and_hides_the_old_stack(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--state-dir" in text and "--stack" not in text
    assert "example" in text


def test_the_commands_are_the_makers_five() -> None:
    assert _subcommands() == ["deposit", "provision", "publish", "robot", "shelter"]


def test_the_state_dir_defaults_to_the_repositorys_local_stack() -> None:
    from infra.local.stack import ROOT

    args = _parser().parse_args(["publish", "--device", "robot-001", "status", "{}"])
    assert cli.state_dir(args) == ROOT / ".local"
    assert cli.default_state_dir() == ROOT / ".local"


def test_the_old_stack_file_option_still_names_the_state_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parser().parse_args(
        ["deposit", "--device", "robot-001", "--code", "1", "--stack", str(tmp_path / "stack.json")]
    )
    assert cli.state_dir(args) == tmp_path.resolve()
    assert cli.stack_file(args) == (tmp_path / "stack.json").resolve()
    assert "deprecated" in capsys.readouterr().err


def test_a_device_of_a_stack_that_is_not_running_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["publish", "--device", "shelter-001", "--state-dir", str(tmp_path), "status", "{}"]
    assert main(argv) == cli.EXIT_USAGE
    assert "start the local stack" in capsys.readouterr().err
    (tmp_path / "stack.json").write_text(json.dumps({"mqtt": {"devices": {}}}))
    assert main(argv) == cli.EXIT_USAGE
    assert "'shelter-001' is not in" in capsys.readouterr().err


def test_publish_takes_its_options_before_or_after_the_payload() -> None:
    from iot.__main__ import _parse

    before = _parse(["publish", "--device", "robot-001", "--raw", "deposits", '{"event_id": '])
    after = _parse(["publish", "deposits", '{"event_id": ', "--raw", "--device", "robot-001"])
    assert before == after
    assert (after.topic, after.payload, after.raw, after.device) == (
        "deposits",
        '{"event_id": ',
        True,
        "robot-001",
    )


def test_the_old_device_command_is_the_deposit_command(capsys: pytest.CaptureFixture[str]) -> None:
    from iot.device import main as old_main

    assert old_main(["status"]) == cli.EXIT_USAGE
    assert "python -m iot.device deposit" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        old_main(["deposit", "--help"])
    assert "--state-dir" in capsys.readouterr().out


def test_the_commands_run_from_any_folder_without_pythonpath(tmp_path: Path) -> None:
    """`./dev` installs the project editable (pyproject.toml): a maker's shell needs no
    PYTHONPATH and no particular folder."""
    import sysconfig
    from importlib import metadata

    installed = metadata.distributions(path=[sysconfig.get_paths()["purelib"]])
    if not any(d.metadata["Name"] == "gimhae-smart-city" for d in installed):
        pytest.skip("the project is not installed in this environment: ./dev installs it")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for command in (
        [sys.executable, "-m", "iot", "--help"],
        [sys.executable, "-m", "infra.local", "--help"],
    ):
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    script = Path(sys.executable).with_name("gimhae-device")
    done = subprocess.run(
        [str(script), "publish", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "usage: gimhae-device publish" in done.stdout
