"""The local stack's test clock (infra/local/stack_clock.py): durations, the offset file,
the clock installed into a process's app from outside, and its command line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.local import stack_clock
from infra.local.__main__ import main
from infra.local.stack_clock import ClockError, StackClock, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3d", 3 * 86400),
        ("6h", 6 * 3600),
        ("10m", 600),
        ("90s", 90),
        ("1w", 7 * 86400),
        ("1d12h", 86400 + 12 * 3600),
        (" 2h30m ", 2 * 3600 + 1800),
    ],
)
def test_a_duration_is_a_number_and_a_unit_or_several(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("-1d", "only moves forward"),
        ("-10m", "only moves forward"),
        ("0m", "more than nothing"),
        ("0d0h", "more than nothing"),
        ("3", "not a duration"),
        ("d", "not a duration"),
        ("3 d", "not a duration"),
        ("1.5d", "not a duration"),
        ("３d", "not a duration"),  # digits of other scripts
        ("3D", "not a duration"),
        ("1y", "not a duration"),
        ("", "not a duration"),
        ("1d;rm", "not a duration"),
        ("99999w", "at most"),
    ],
)
def test_anything_else_is_refused_with_what_to_write(text: str, says: str) -> None:
    with pytest.raises(ClockError, match=says):
        parse_duration(text)


def test_describe_reads_like_what_advance_takes() -> None:
    assert stack_clock.describe(timedelta(0)) == "0s"
    assert stack_clock.describe(timedelta(days=25, hours=6, minutes=3)) == "25d 6h 3m"
    assert stack_clock.describe(timedelta(seconds=59)) == "59s"


def test_the_offset_adds_up_and_reset_goes_back_to_real_time(tmp_path: Path) -> None:
    # GIVEN a state dir never advanced
    assert stack_clock.read_offset(tmp_path) == timedelta(0)
    # WHEN advanced twice
    stack_clock.advance(tmp_path, timedelta(hours=6))
    assert stack_clock.advance(tmp_path, timedelta(days=3)) == timedelta(days=3, hours=6)
    # THEN the file says so, readable by hand
    document = json.loads(stack_clock.path(tmp_path).read_text())
    assert (document["offset_s"], document["offset"]) == (3 * 86400 + 6 * 3600, "3d 6h")
    # AND a move back is refused, the offset unchanged
    with pytest.raises(ClockError, match="only moves forward"):
        stack_clock.advance(tmp_path, timedelta(seconds=-1))
    with pytest.raises(ClockError, match="at most"):
        stack_clock.advance(tmp_path, stack_clock.MAX_OFFSET)
    assert stack_clock.read_offset(tmp_path) == timedelta(days=3, hours=6)
    # WHEN reset: real time again, and the file is gone
    assert stack_clock.reset(tmp_path) == timedelta(days=3, hours=6)
    assert stack_clock.read_offset(tmp_path) == timedelta(0)
    assert not stack_clock.path(tmp_path).exists()


def test_a_clock_follows_its_file_and_reads_a_broken_one_as_real_time(tmp_path: Path) -> None:
    clock = StackClock(stack_clock.path(tmp_path))
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    stack_clock.advance(tmp_path, timedelta(days=3))
    assert abs(clock.now() - datetime.now(UTC) - timedelta(days=3)) < timedelta(seconds=5)
    assert abs(clock.time_ms() / 1000 - clock.now().timestamp()) < 5
    stack_clock.advance(tmp_path, timedelta(minutes=10))  # read again: the file changed
    assert clock.offset() == timedelta(days=3, minutes=10)
    for broken in (
        '{"offset_s": -5}',
        '{"offset_s": "1d"}',
        "[]",
        "not json",
        '{"offset_s": true}',
    ):
        stack_clock.path(tmp_path).write_text(broken)
        os.utime(stack_clock.path(tmp_path), ns=(1, len(broken)))  # a change stat can see
        assert clock.offset() == timedelta(0), broken
    stack_clock.reset(tmp_path)
    assert clock.offset() == timedelta(0)


class _NoTime:
    """A scheduled event that does not say when it fired."""

    def to_dict(self) -> dict[str, str]:
        return {}


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    stack_clock.install(stack_clock.path(tmp_path))
    try:
        yield tmp_path
    finally:
        stack_clock.uninstall()


def test_installed_every_reader_of_the_apps_clock_reads_the_stacks_now(installed: Path) -> None:
    # names bound at import (`from chalicelib.domain.clock import utc_now [as ...]`), the
    # module's own, the container's clock and the modules reading `clock.utc_now()`
    from chalicelib import wiring
    from chalicelib.adapters import dynamodb_boards
    from chalicelib.api import reports
    from chalicelib.domain import clock
    from chalicelib.events import schedules

    readers = {
        "clock.utc_now": clock.utc_now,
        "reports.utc_now": reports.utc_now,
        "dynamodb_boards.time_now": dynamodb_boards.time_now,
        "wiring.clock()": wiring.clock(),
        "schedules.event_time": lambda: schedules.event_time(_NoTime()),
    }
    stack_clock.advance(installed, timedelta(days=3))
    for name, read in readers.items():
        ahead = read() - datetime.now(UTC)
        assert timedelta(days=3) - timedelta(seconds=5) < ahead <= timedelta(days=3), name
    # WHEN uninstalled, each reads real time again
    stack_clock.uninstall()
    assert clock.utc_now() - datetime.now(UTC) < timedelta(seconds=5)
    assert reports.utc_now() - datetime.now(UTC) < timedelta(seconds=5)
    assert dynamodb_boards.time_now() - datetime.now(UTC) < timedelta(seconds=5)
    assert not hasattr(clock.utc_now, "__wrapped__")


# -- the command line (no stack running: the file alone) -----------------------------------


def _clock(capsys: pytest.CaptureFixture[str], tmp_path: Path, *words: str) -> tuple[int, str]:
    code = main(["clock", *words, "--state-dir", str(tmp_path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_clock_command_shows_advances_and_resets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _clock(capsys, tmp_path)
    shown = json.loads(out)
    assert code == 0 and (shown["offset"], shown["offset_s"]) == ("0s", 0)
    assert shown["now_seoul"].endswith("+09:00") and "fired" not in shown
    code, out = _clock(capsys, tmp_path, "advance", "1d12h")
    moved = json.loads(out)
    assert code == 0 and moved["offset_s"] == 36 * 3600
    assert "fired" not in moved  # no stack running: nothing to fire
    now = datetime.fromisoformat(moved["now"])
    assert timedelta(hours=36) - timedelta(seconds=5) < now - datetime.now(UTC)
    # the state dir may come before the move too
    assert main(["clock", "--state-dir", str(tmp_path), "show"]) == 0
    assert json.loads(capsys.readouterr().out)["offset"] == "1d 12h"
    code, out = _clock(capsys, tmp_path, "reset")
    assert code == 0 and json.loads(out)["offset_s"] == 0


@pytest.mark.parametrize(
    ("by", "says"),
    [("-1d", "only moves forward"), ("-30m", "only moves forward"), ("1x", "not a duration")],
)
def test_the_clock_command_refuses_a_move_back_or_a_bad_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], by: str, says: str
) -> None:
    code, out = _clock(capsys, tmp_path, "advance", by)
    assert code == 2 and says in out and "Traceback" not in out
    assert stack_clock.read_offset(tmp_path) == timedelta(0)


def test_env_and_resources_need_a_running_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("env", "resources"):
        assert main([command, "--state-dir", str(tmp_path)]) == 1
        assert "no local stack is running" in capsys.readouterr().err


def test_env_prints_quoted_export_lines_and_unsets_a_real_profile() -> None:
    from infra.local.reach import shell_lines

    document = {"aws_endpoint_url": "http://127.0.0.1:5000", "region": "ap-northeast-2"}
    lines = shell_lines(document)
    assert lines == [
        "export AWS_ENDPOINT_URL=http://127.0.0.1:5000",
        "export AWS_DEFAULT_REGION=ap-northeast-2",
        "export AWS_REGION=ap-northeast-2",
        "export AWS_ACCESS_KEY_ID=local",
        "export AWS_SECRET_ACCESS_KEY=local",
        "unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN",
    ]
    odd = shell_lines({"aws_endpoint_url": "http://h/$(id)", "region": "r"})
    assert odd[0] == "export AWS_ENDPOINT_URL='http://h/$(id)'"
