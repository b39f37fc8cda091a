"""A hostile tester's pass over the command-line tools (`python -m iot`, `python -m
infra.local env|resources|clock`): every class of bad input is a clear error with the right
exit code, never a traceback, a hang, a silent acceptance or a way out of the device's own
identity. The broker's side of it (another device's topics) is in
tests/e2e/test_hostile_tools_e2e.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.citizens import code_keys_at
from infra.local import __main__ as local_main
from infra.local import pki, stack_clock
from infra.local.device_ca import CsrRefused, sign_device_csr
from infra.local.provision import provision_device
from infra.local.reach import shell_lines
from iot import __main__ as iot_main
from iot import cli
from iot.agents import DeviceConfig
from iot.deposit_lines import MAX_LINE, DepositLineError, parse_deposit_line
from iot.device_lock import DeviceLock, LockFolderError
from iot.provisioning import DeviceSpec, SpecError, make_key_and_csr, read_csv
from tests.conftest import ROOT

TELEMETRY = "gimhae/shelters/shelter-101/telemetry"
DEPOSITS = "gimhae/robots/robot-101/deposits"


def _config(kind: str = "shelter", **overrides: Any) -> DeviceConfig:
    given: dict[str, Any] = {
        "device_id": f"{kind}-101",
        "device_type": kind,
        "outbox": None,
        "host": "127.0.0.1",
        "port": 1,
        "ca_file": "ca.pem",
        "cert_file": "device.pem",
        "key_file": "device.key",
        **overrides,
    }
    return DeviceConfig(**given)


# ---------------------------------------------------------------- publish: the payload


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"pm10": NaN}', "NaN is not a JSON value"),
        (b'{"pm10": Infinity}', "Infinity"),
        (b'{"pm10": -Infinity}', "Infinity"),
        (b'{"pm10": 1, "pm10": 2}', "same key twice"),
        (b'{"note": "\\ud800"}', "unpaired surrogate"),
        (b"[" * 40 + b"]" * 40, "deeper than"),
        (b"[" * 100_000 + b"]" * 100_000, "limit is"),  # over 128 KB first
        (b"[1, 2]", "JSON list, not an object"),
        (b"42", "JSON int, not an object"),
        (b'"text"', "JSON str, not an object"),
        (b"null", "JSON NoneType, not an object"),
        (b"", "no payload"),
        (b"  \n", "no payload"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "BOM"),
        (b'{"a": "\x00"}', "control character"),
        (b'{"a": 1', "not valid JSON"),
    ],
)
def test_a_payload_the_cloud_could_not_read_is_refused_unless_raw(raw: bytes, says: str) -> None:
    with pytest.raises(cli.UsageError, match=says):
        cli.prepare_payload(raw, TELEMETRY, as_is=False)
    body, _ = cli.prepare_payload(raw, TELEMETRY, as_is=True)  # --raw: as given, no traceback
    assert body == raw


def test_a_payload_is_within_128_kb_as_sent_not_only_as_typed() -> None:
    # GIVEN a telemetry payload of exactly 128 KB with its ts, and the same without ts
    filler = "a" * (cli.MAX_PAYLOAD - len(b'{"ts":"2026-12-08T07:03:53+09:00","x":""}'))
    exact = json.dumps({"ts": "2026-12-08T07:03:53+09:00", "x": filler}, separators=(",", ":"))
    assert len(exact) == cli.MAX_PAYLOAD
    body, _ = cli.prepare_payload(exact.encode(), TELEMETRY, as_is=False)
    assert len(body) == cli.MAX_PAYLOAD  # THEN exactly at the limit goes
    without_ts = json.dumps({"x": filler + "a" * 20}, separators=(",", ":")).encode()
    assert len(without_ts) <= cli.MAX_PAYLOAD
    with pytest.raises(cli.UsageError, match="with what is added"):  # ts would push it over
        cli.prepare_payload(without_ts, TELEMETRY, as_is=False)
    with pytest.raises(cli.UsageError, match="131073 bytes"):
        cli.prepare_payload(b" " + exact.encode(), TELEMETRY, as_is=False)


def test_a_payload_is_read_within_bounds_even_from_an_endless_file() -> None:
    with open("/dev/zero", "rb") as endless:
        raw = cli.read_payload(None, None, endless)
    assert len(raw) == cli.MAX_RAW + 1
    with pytest.raises(cli.UsageError, match="no device client sends that"):
        cli.prepare_payload(raw, TELEMETRY, as_is=True)
    assert cli.read_payload(None, Path("/dev/zero"))[:1] == b"\x00"


def test_an_argument_that_is_not_utf8_is_its_bytes_not_a_traceback() -> None:
    typed = os.fsdecode(b'{"a": "\xff"}')  # how Python hands over such an argument
    raw = cli.read_payload(typed, None)
    assert raw == b'{"a": "\xff"}'
    with pytest.raises(cli.UsageError, match="not UTF-8"):
        cli.prepare_payload(raw, TELEMETRY, as_is=False)


def test_an_escaped_nul_is_json_and_goes_as_json() -> None:
    body, document = cli.prepare_payload(b'{"a": "\\u0000"}', TELEMETRY, as_is=False)
    assert document["a"] == "\x00" and b'"a":"\\u0000"' in body


def test_a_deposit_without_an_id_gets_one_and_a_time() -> None:
    _, document = cli.prepare_payload(b'{"citizen": {"code": "1"}}', DEPOSITS, as_is=False)
    assert len(document["event_id"]) == 26 and document["occurred_at"].endswith("+09:00")


# ---------------------------------------------------------------- publish: the topic


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("events\n/door", "control"),
        ("events/\x1b[31mred", "control"),
        ("events/\u202edoor", "control"),  # right-to-left override
        ("events/\udcff", "UTF-8"),  # a byte of the command line that is not UTF-8
        ("events/" + "a" * 300, "256"),
        ("events/" + "문" * 80, "256"),  # 240 bytes of Hangul past the prefix
        ("gimhae/robots/+/deposits", "wildcards"),
        ("#", "wildcards"),
    ],
)
def test_a_topic_that_is_not_text_or_too_long_is_refused(name: str, says: str) -> None:
    with pytest.raises(cli.UsageError, match=says):
        cli.topic_for(_config(), name)


OWN = "gimhae/shelters/shelter-101"
SHADOW = "$aws/things/shelter-101/shadow"


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("events/문", f"{OWN}/events/문"),
        ("../robot-001/deposits", f"{OWN}/../robot-001/deposits"),
        ("/gimhae/robots/robot-001/deposits", f"{OWN}/gimhae/robots/robot-001/deposits"),
        ("shadow/../../robot-001/shadow/update", f"{SHADOW}/../../robot-001/shadow/update"),
        ("$aws/things/robot-001/shadow/update", "$aws/things/robot-001/shadow/update"),
    ],
)  # fmt: skip
def test_path_tricks_stay_literal_topic_levels(name: str, topic: str) -> None:
    """MQTT has no `..`: each trick is a literal topic, under the device's own id or a full
    topic the broker refuses (tests/e2e/test_hostile_tools_e2e.py)."""
    assert cli.topic_for(_config(), name) == topic


# ---------------------------------------------------------------- the stack's file


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{bad", "corrupt"),
        (b"\xff\xfe", "corrupt"),
        (b"[1, 2]", "not a stack file of this version"),
        (b'{"api_url": "http://x"}', "not a stack file of this version"),
        (b'{"mqtt": {"devices": []}}', "not a stack file of this version"),
        (b'{"mqtt": {"devices": {"robot-101": "x"}}}', "not in"),
        (b'{"mqtt": {"devices": {"robot-101": {}}}}', "no usable connection"),
    ],
)
def test_a_corrupt_or_older_stack_file_is_a_usage_error(
    tmp_path: Path, content: bytes, says: str
) -> None:
    (tmp_path / "stack.json").write_bytes(content)
    args = iot_main._parse(["publish", "--device", "robot-101", "status", "{}"])
    args.state_dir = tmp_path
    with pytest.raises(cli.UsageError, match=says):
        cli.load_device(args)


def test_a_state_dir_that_is_a_file_or_unreadable_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "stack.json").mkdir()
    with pytest.raises(cli.UsageError, match="cannot read"):
        cli.read_stack(tmp_path / "stack.json")


@pytest.mark.parametrize("content", [None, b"[1]", b"\xff", b'{"device_id": 5}', b"{"])
def test_a_config_that_is_no_devices_is_a_usage_error(
    tmp_path: Path, content: bytes | None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.json"
    if content is None:
        path.mkdir()  # a folder where the file should be
    else:
        path.write_bytes(content)
    assert iot_main.main(["publish", "--config", str(path), "status", "{}"]) == cli.EXIT_USAGE
    assert str(path) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "kind"), [("robot", "shelter"), ("deposit", "shelter"), ("shelter", "robot")]
)
def test_an_agent_of_the_other_type_is_refused_before_it_connects(
    tmp_path: Path, command: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shelter running the robot agent: the broker refused every deposit, and the agent
    resent them for ever without a word."""
    config = {"device_id": f"{kind}-101", "type": kind, "host": "127.0.0.1", "port": 1}
    config |= {"ca_file": "ca.pem", "cert_file": "d.pem", "key_file": "d.key"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    extra = ["--phone", "010-1234-5678"] if command == "deposit" else []
    argv = [command, "--config", str(tmp_path / "config.json"), *extra]
    assert iot_main.main(argv) == cli.EXIT_USAGE
    assert f"{kind}-101 is a {kind}, not a" in capsys.readouterr().err


def test_missing_certificate_files_are_a_device_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIMHAE_DEVICE_LOCKS", str(tmp_path / "locks"))
    config = {"device_id": "robot-101", "type": "robot", "host": "127.0.0.1", "port": 1}
    config |= {"ca_file": "ca.pem", "cert_file": "nope.pem", "key_file": "nope.key"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    code = iot_main.main(["publish", "--config", str(tmp_path / "config.json"), "status", "{}"])
    assert code == cli.EXIT_ERROR
    assert "cannot use its credentials" in capsys.readouterr().err


# ---------------------------------------------------------------- number options


@pytest.mark.parametrize(
    "argv",
    [
        ["shelter", "--pm10", "-5"],
        ["shelter", "--pm10", "1e9"],
        ["shelter", "--pm25", "nan"],
        ["shelter", "--pm25", "inf"],
        ["shelter", "--scenario", "storm"],
        ["shelter", "--count", "0"],
        ["shelter", "--count", "-1"],
        ["shelter", "--every", "-1"],
        ["shelter", "--speed", "0"],
        ["shelter", "--heartbeat", "0"],
        ["shelter", "--connect-timeout", "-3"],
        ["robot", "--deposits", "-1"],  # with --every it queued deposits for ever
        ["robot", "--can", "-3"],
        ["robot", "--every", "nan"],
        ["robot", "--every", "0.001"],  # over IoT Core's 100 publishes a second
        ["shelter", "--every", "1e-9"],
        ["robot", "--heartbeat", "0.001"],
        ["robot", "--port", "70000"],  # bind() raised OverflowError
        ["robot", "--port", "-1"],
        ["robot", "--ack-timeout", "0"],
        ["deposit", "--phone", "010", "--pet", "-1"],
        ["deposit", "--phone", "010", "--timeout", "inf"],
        ["publish", "status", "{}", "--timeout", "-1"],
        ["publish", "status", "{}", "--qos", "2"],
    ],
)
def test_impossible_numbers_and_unknown_scenarios_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        iot_main._parse([argv[0], "--device", "x-1", *argv[1:]])
    assert exit_.value.code == cli.EXIT_USAGE
    assert "error: argument" in capsys.readouterr().err


def test_sensible_numbers_still_parse() -> None:
    args = iot_main._parse(["shelter", "--device", "s-1", "--pm10", "160", "--pm25", "0"])
    assert (args.pm10, args.pm25, args.every) == (160.0, 0.0, 10.0)
    args = iot_main._parse(["robot", "--device", "r-1", "--port", "0", "--every", "0"])
    assert (args.port, args.every, args.deposits) == (0, 0.0, 0)


# ---------------------------------------------------------------- deposit lines


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"citizen": {"phone": "x"}, "items": [{"accepted": NaN}]}', "NaN"),
        ('{"citizen": {"phone": "x"}, "items": [], "items": []}', "twice"),
        ('{"citizen": {"phone": "\\ud800"}, "items": []}', "surrogate"),
        ('{"citizen": {"phone": "x"}, "items": [], "event_id": "x"}', "8-64 characters"),
        ('{"citizen": {"phone": "x"}, "items": [], "event_id": "a\\nbcdefghi"}', "8-64"),
        ('{"citizen": {"phone": "x"}, "items": [], "occurred_at": "yesterday"}', "RFC 3339"),
        ('{"citizen": {"phone": "x"}, "items": [], "occurred_at": "2026-01-01"}', "offset"),
        ("{" + '"a":{' * 40 + "}" * 41, "deeper"),
        ("phone 010 can=１", "whole numbers"),  # digits of another script
        ("phone 010 can=1 at=２０２６-01-01T00:00:00+09:00", "RFC 3339"),
        ("x" * (MAX_LINE + 1), "over 128 KB"),
    ],
)
def test_a_deposit_the_cloud_could_not_ack_is_refused_by_the_robot(text: str, says: str) -> None:
    """Its rejection could not name the event: the robot would resend it for ever."""
    with pytest.raises(DepositLineError, match=says):
        parse_deposit_line(text)


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffphone 010-1234-5678 can=1",  # a BOM from a Windows editor
        "phone 010-1234-5678 can=1\r\n",
        "phone 010 can=1 at=1900-01-01T00:00:00+09:00",  # the cloud judges the window
        "phone 010 can=1 at=9999-12-31T23:59:59+09:00",
        "phone not-a-number can=1",  # the cloud's ack says unknown_citizen
    ],
)
def test_what_the_cloud_judges_goes_to_the_cloud(text: str) -> None:
    assert parse_deposit_line(text) is not None


@pytest.mark.parametrize(
    "at",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, 9, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_a_code_deposit_at_an_end_of_the_calendar_reads_no_grant_and_does_not_crash(
    at: datetime,
) -> None:
    """`code 123456 can=1 at=0001-01-01T00:00:00Z` raised OverflowError in the deposit
    handler: no ack, and the robot resent it for ever (the cloud now says out of range)."""
    assert code_keys_at("123456", at, 600)[-1] == "123456"


def test_bounded_lines_survive_junk_bytes_and_overlong_lines() -> None:
    source = io.BytesIO(
        b"phone 1 can=1\n\xff\xfe\x00junk\n"
        + b"a" * (MAX_LINE + 5)  # overlong, then its end on the same line
        + b"\nphone 2 can=1\n"
        + b"b" * (3 * MAX_LINE)  # overlong, no newline at the end
    )
    lines = list(iot_main.bounded_lines(source))
    assert lines[0] == "phone 1 can=1\n"
    assert lines[1] == "\ufffd\ufffd\x00junk\n"
    assert lines[2] is None and lines[3] == "phone 2 can=1\n" and lines[4] is None
    assert len(lines) == 5


def test_an_exactly_full_line_is_a_line() -> None:
    line = b"c" * (MAX_LINE - 1) + b"\n"
    assert list(iot_main.bounded_lines(io.BytesIO(line))) == [line.decode()]


# ---------------------------------------------------------------- provisioning from CSV

HEADER = "thing,type,name,district,lat,lon\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (HEADER + "robot-1,robot," + "a" * 200_000 + ",,,\n", "not CSV this reads"),
        (HEADER + 'robot-1,robot,"open quote,,,\n', "not CSV this reads"),
        ("thing,type,thing\nrobot-1,robot,robot-2\n", "named twice: \\['thing'\\]"),
        (HEADER + "robot-1,robot,,,nan,nan\n", "latitude 'nan'"),
        (HEADER + "robot-1,robot,,,35.2,inf\n", "longitude 'inf'"),
        (HEADER + "robot-1,robot,,,3_5.23,128.88\n", "decimal"),
        (HEADER + "robot-1,robot,,,３５.２３,１２８.８８\n", "decimal"),
        (HEADER + "robot-1,robot,,,1e308,1e308\n", "-90..90"),
        (HEADER + "robot-1,robot,,,128.88,35.23\n", "-90..90"),  # swapped
        (HEADER + "robot-1,robot,abc\u202edef,,,\n", "printable"),
        (HEADER + "robot-1,robot,a\x00b,,,\n", "printable"),
        (HEADER + "robot-1,robot," + "n" * 101 + ",,,\n", "printable"),
        (HEADER + "robot/../x,robot,,,,\n", "thing"),
        (HEADER + "robot-①,robot,,,,\n", "thing"),
        (HEADER + "r" * 129 + ",robot,,,,\n", "thing"),
        (HEADER + "robot-1,robot,,Gangnam-gu,,\n", "district"),
        (HEADER + "robot-1,robot,,,,,extra\n", "more fields"),
        (HEADER + "robot-1,robot,,,,\nrobot-1,robot,,,,\n", "listed twice"),
        ("thing;type\nrobot-1;robot\n", "missing"),
    ],
)
def test_a_hostile_csv_is_refused_with_what_is_wrong(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "d.csv").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=says):
        read_csv(tmp_path / "d.csv")


@pytest.mark.parametrize("thing", ["gimhae-backend", "gimhae-iot-data"])
def test_a_device_named_as_the_brokers_own_identity_is_refused(tmp_path: Path, thing: str) -> None:
    """Its certificate's CN would be the broker's user for the backend (every topic): the
    device could forge any robot's acks. Refused before anything is made, and by the CA."""
    with pytest.raises(SpecError, match="the local broker's own identity"):
        provision_device(DeviceSpec(thing, "robot", "naeoe-dong"), tmp_path)
    ca = pki.ensure_ca(tmp_path / "certs")
    _, csr = make_key_and_csr(tmp_path / "device", thing)
    with pytest.raises(CsrRefused, match="the broker's own identity"):
        sign_device_csr(ca, csr, thing)


def test_provisioning_into_an_older_stack_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({"mqtt": {"devices": {}}}))
    with pytest.raises(cli.UsageError, match="has no region, aws_endpoint_url, host"):
        provision_device(DeviceSpec("robot-1", "robot", "naeoe-dong"), tmp_path)


def test_an_endless_or_huge_csv_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="over 4 MB"):
        read_csv(Path("/dev/zero"))
    with pytest.raises(SpecError, match="Is a directory"):
        (tmp_path / "d.csv").mkdir()
        read_csv(tmp_path / "d.csv")


def test_a_spreadsheets_csv_is_read(tmp_path: Path) -> None:
    """A BOM, CRLF, blank and empty rows, and a name that looks like a formula (kept as
    text: the reports escape such cells when they are exported, chalicelib/domain/reports)."""
    text = "\ufeff" + HEADER.replace("\n", "\r\n")
    text += "robot-1,robot,=cmd|' /C calc'!A0,,,\r\n\r\n,,,,,\r\n"
    text += "shelter-1,shelter,봉황동 쉼터,buwon-dong,35.2335,128.8810\r\n"
    (tmp_path / "d.csv").write_bytes(text.encode())
    specs = read_csv(tmp_path / "d.csv")
    assert [(s.thing, s.name) for s in specs] == [
        ("robot-1", "=cmd|' /C calc'!A0"),
        ("shelter-1", "봉황동 쉼터"),
    ]


# ---------------------------------------------------------------- the identity lock


def test_a_lock_file_planted_as_a_symlink_is_never_followed(tmp_path: Path) -> None:
    folder = tmp_path / "locks"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    lock = DeviceLock("robot-101", "127.0.0.1", 8883, folder)
    lock.path.symlink_to(victim)
    with pytest.raises(LockFolderError, match="symlink"):
        lock.acquire()
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("kind", ["symlink", "open to others", "a file"])
def test_a_lock_folder_that_is_not_safely_ours_is_refused(tmp_path: Path, kind: str) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    folder = tmp_path / "locks"
    if kind == "symlink":
        folder.symlink_to(real)  # planted in a shared /tmp by someone else
    elif kind == "open to others":
        folder.mkdir()
        folder.chmod(0o777)
    else:
        (tmp_path / "file").write_text("")
        folder = tmp_path / "file" / "locks"
    with pytest.raises(LockFolderError, match="GIMHAE_DEVICE_LOCKS"):
        DeviceLock("robot-101", "127.0.0.1", 8883, folder).acquire()


def test_a_lock_folder_the_user_chose_through_a_symlink_is_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "mine").symlink_to(real)
    monkeypatch.setenv("GIMHAE_DEVICE_LOCKS", str(tmp_path / "mine"))
    lock = DeviceLock("robot-101", "127.0.0.1", 8883)
    lock.acquire()
    try:
        assert lock.held and lock.path.parent == real
    finally:
        lock.release()


def test_two_stacks_side_by_side_do_not_share_a_lock(tmp_path: Path) -> None:
    one = DeviceLock("robot-101", "127.0.0.1", 8883, tmp_path)
    other = DeviceLock("robot-101", "127.0.0.1", 18883, tmp_path)
    one.acquire()
    other.acquire()
    assert one.held and other.held
    one.release()
    other.release()


# ---------------------------------------------------------------- the test clock


@pytest.mark.parametrize("content", [b"{bad", b"\xff\xfe", b"[]", b'{"offset_s": "1d"}'])
def test_a_corrupt_clock_file_is_said_so_not_a_traceback(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "clock.json").write_bytes(content)
    assert local_main.main(["clock", "--state-dir", str(tmp_path)]) == 2
    assert "clock reset" in capsys.readouterr().err
    assert local_main.main(["clock", "reset", "--state-dir", str(tmp_path)]) == 0


def test_an_offset_as_the_clock_prints_it_is_taken_back() -> None:
    offset = timedelta(days=25, hours=6, minutes=3)
    assert stack_clock.parse_duration(stack_clock.describe(offset)) == offset


@pytest.mark.parametrize("text", ["1d  12h", "1d\t12h", "3 d", "1d 12", "1d ", " "])
def test_a_duration_is_still_strict_about_spaces(text: str) -> None:
    if text.strip() == "1d":
        assert stack_clock.parse_duration(text) == timedelta(days=1)
        return
    with pytest.raises(stack_clock.ClockError, match="not a duration"):
        stack_clock.parse_duration(text)


def test_concurrent_advances_all_count(tmp_path: Path) -> None:
    threads = [
        threading.Thread(target=stack_clock.advance, args=(tmp_path, timedelta(minutes=1)))
        for _ in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stack_clock.read_offset(tmp_path) == timedelta(minutes=12)


def test_a_state_dir_that_cannot_be_written_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".clock.lock").mkdir()  # a folder where its lock file goes (root ignores modes)
    assert local_main.main(["clock", "advance", "1d", "--state-dir", str(tmp_path)]) == 1
    assert "cannot move the clock" in capsys.readouterr().err


@pytest.mark.parametrize("move", ["advance", "reset"])
def test_a_move_in_a_folder_that_is_no_stacks_is_refused(
    tmp_path: Path, move: str, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / ".locla"
    argv = ["clock", move, *(["1d"] if move == "advance" else []), "--state-dir", str(typo)]
    assert local_main.main(argv) == 2
    assert "not a local stack's state folder" in capsys.readouterr().err
    assert not typo.exists()


def test_a_name_that_looks_like_an_option_stays_a_name(tmp_path: Path) -> None:
    """`provision` hands the device's details to the local stack's command: a name `--folder`
    used to be taken there for an option (`argument --name: expected one argument`)."""
    done = subprocess.run(
        [sys.executable, "-m", "iot", "provision", "--thing", "robot-1", "--type", "robot",
         "--name=--folder", "--state-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == cli.EXIT_USAGE
    assert "stack.json not found" in done.stderr, done.stderr


# ---------------------------------------------------------------- env and resources

RUNNING = {
    "aws_endpoint_url": "http://127.0.0.1:5000",
    "region": "ap-northeast-2",
    "resources": {"exports_bucket": "b"},
}


@pytest.mark.parametrize(
    ("document", "command", "says"),
    [
        ([1, 2], "env", "has no aws_endpoint_url, region"),
        ({"api_url": "x"}, "env", "older version"),
        ({**RUNNING, "region": ""}, "env", "has no region"),
        ({k: v for k, v in RUNNING.items() if k != "resources"}, "resources", "no resources"),
        ("not json", "resources", "corrupt"),
    ],
)
def test_env_and_resources_say_what_is_wrong_with_the_stack_file(
    tmp_path: Path, document: Any, command: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    (tmp_path / "stack.json").write_text(text)
    assert local_main.main([command, "--state-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == ""


def test_the_exports_stay_shell_safe_under_eval(tmp_path: Path) -> None:
    """A state dir and values with quotes, spaces, `$(...)` and backticks: eval runs none."""
    trap = tmp_path / "ran"
    hostile = f"http://x/'$(touch {trap})\"`touch {trap}`; touch {trap}"
    lines = shell_lines({**RUNNING, "aws_endpoint_url": hostile})
    script = "\n".join(lines) + '\nprintf %s "$AWS_ENDPOINT_URL"'
    done = subprocess.run(
        ["bash", "-c", 'eval "$0"', script],
        capture_output=True,
        text=True,
        timeout=10,
        env={"PATH": os.environ["PATH"], "AWS_PROFILE": "real"},
    )
    assert done.returncode == 0 and done.stdout == hostile
    assert not trap.exists()


def test_env_from_a_state_dir_with_quotes_and_spaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / 'it\'s a "dir" $(x)'
    state.mkdir()
    (state / "stack.json").write_text(json.dumps(RUNNING))
    assert local_main.main(["env", "--state-dir", str(state)]) == 0
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:5000" in capsys.readouterr().out
