"""The local stack's test clock, like the test clocks of payment platforms' sandboxes:
`python -m infra.local clock advance 3d` moves the stack's "now" forward for every handler
(the API's routes, the queue and stream handlers in the Lambda worker processes), every
schedule and the IoT rules engine's `timestamp()`; `clock reset` brings it back to real time.

The stack's now is real time plus an offset kept in `<state-dir>/clock.json`
(`{"offset_s": 259200, ...}`; no file: no offset), so it keeps running while advanced.
Nothing in the deployed code reads it: :func:`install` replaces, from outside,
`chalicelib.domain.clock.utc_now` (the one "now" the app reads) in each process of the stack
(the stack's own, where the API runs, and each Lambda worker, before it imports the app).
The file is read again whenever it changes (one `stat` per read of the time).

Forward only: an advance by a negative or empty duration is refused, since records written
at a later time and then ones written at an earlier one would break each ledger's order.
`reset` is the one way back, for throwaway data (see docs/local-stack.md#the-test-clock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FILE_NAME = "clock.json"
MAX_OFFSET = timedelta(days=3660)
"""Ten years ahead at most: far enough for any test, and no datetime overflow."""
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"[0-9]{1,9}[wdhms](?: ?[0-9]{1,9}[wdhms])*", re.ASCII)
_PART = re.compile(r"([0-9]{1,9})([wdhms])", re.ASCII)


class ClockError(ValueError):
    """A duration or a move the test clock refuses; `str()` says why."""


def path(state_dir: Path | str) -> Path:
    return Path(state_dir) / FILE_NAME


def parse_duration(text: str) -> timedelta:
    """`3d`, `6h`, `10m`, `90s`, `1w`, or several at once (`1d12h`, or `1d 12h` as
    :func:`describe` writes it): a positive duration."""
    raw = text.strip()
    if raw.startswith("-"):
        raise ClockError(
            "the test clock only moves forward (records written later, then earlier, would "
            "break each ledger's order); `clock reset` goes back to real time"
        )
    if not _DURATION.fullmatch(raw):
        raise ClockError(
            f"not a duration: {text!r}; write a number and a unit (w, d, h, m, s), "
            "e.g. 3d, 6h, 10m, 90s or 1d12h"
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(raw))
    if seconds == 0:
        raise ClockError("advance by more than nothing, e.g. 10m")
    if seconds > MAX_OFFSET.total_seconds():
        raise ClockError(f"the test clock moves at most {describe(MAX_OFFSET)} ahead")
    return timedelta(seconds=seconds)


def describe(offset: timedelta) -> str:
    """An offset the way `advance` takes it: `25d 6h 3m` (`0s` for none)."""
    seconds = int(offset.total_seconds())
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0s"


def _read(file: Path) -> timedelta:
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return timedelta(0)
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        document = None
    offset = document.get("offset_s") if isinstance(document, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ClockError(f"{file}: no offset_s of 0 or more seconds; `clock reset` rewrites it")
    return timedelta(seconds=min(offset, int(MAX_OFFSET.total_seconds())))


def read_offset(state_dir: Path | str) -> timedelta:
    """How far the stack's clock is ahead of real time (0 when never advanced)."""
    return _read(path(state_dir))


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Two advances at once both count (each reads the other's result)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".clock.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(state_dir: Path, offset: timedelta) -> None:
    target = path(state_dir)
    tmp = target.with_name(f".{FILE_NAME}.{uuid.uuid4().hex}.tmp")
    document = {
        "offset_s": int(offset.total_seconds()),
        "offset": describe(offset),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp.write_text(json.dumps(document) + "\n", encoding="utf-8")
    os.replace(tmp, target)  # readers see the old file or the new one, never half of one


def advance(state_dir: Path | str, by: timedelta) -> timedelta:
    """Move the clock forward by `by` (positive); the new offset."""
    if by <= timedelta(0):
        raise ClockError("the test clock only moves forward; `clock reset` goes back")
    folder = Path(state_dir)
    with _locked(folder):
        offset = read_offset(folder) + timedelta(seconds=int(by.total_seconds()))
        if offset > MAX_OFFSET:
            raise ClockError(f"the test clock moves at most {describe(MAX_OFFSET)} ahead")
        _write(folder, offset)
    return offset


def reset(state_dir: Path | str) -> timedelta:
    """Back to real time; the offset it had."""
    folder = Path(state_dir)
    with _locked(folder):
        try:
            before = read_offset(folder)
        except ClockError:
            before = timedelta(0)
        path(folder).unlink(missing_ok=True)
    return before


class StackClock:
    """Real time plus the offset in `file`, read again whenever the file changes."""

    def __init__(self, file: Path) -> None:
        self.file = Path(file)
        self._cached: tuple[Any, timedelta] = (None, timedelta(0))

    def offset(self) -> timedelta:
        try:
            st = os.stat(self.file)
        except FileNotFoundError:
            return timedelta(0)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached_key, offset = self._cached
        if key != cached_key:
            try:
                offset = _read(self.file)
            except (ClockError, ValueError, OSError):
                offset = timedelta(0)  # a file being replaced, or broken: real time
            self._cached = (key, offset)
        return offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def time_ms(self) -> int:
        return int(self.now().timestamp() * 1000)


# -- installing it into a process of the stack ---------------------------------------------

_install_lock = threading.Lock()
_installed: list[Callable[[], None]] = []


def install(file: Path) -> StackClock:
    """This process's app reads the stack's clock: `chalicelib.domain.clock.utc_now` (and
    every name a module already bound to it) becomes the stack's now. Undone by
    :func:`uninstall`. Install before the app is imported where possible (a default argument
    bound at import would keep the real clock); names bound at module level are found."""
    from chalicelib.domain import clock as app_clock

    stack_clock = StackClock(file)
    with _install_lock:
        _uninstall_locked()
        real = app_clock.utc_now

        def utc_now() -> datetime:
            return stack_clock.now()

        utc_now.__doc__ = "The local stack's now: real time plus its test clock's offset."
        utc_now.__wrapped__ = real  # type: ignore[attr-defined]
        _rebind(real, utc_now)
        # Undone the same way: modules imported since bound the stack's clock too.
        _installed.append(lambda: _rebind(utc_now, real))
    return stack_clock


def _rebind(old: object, new: object) -> None:
    """Every module-level name of the app (chalicelib's modules and `app`) bound to `old`
    is bound to `new`."""
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "app" or module_name.startswith("chalicelib")):
            continue
        for name, value in list(vars(module).items()):
            if value is old:
                setattr(module, name, new)


def _uninstall_locked() -> None:
    while _installed:
        _installed.pop()()


def uninstall() -> None:
    """The app reads real time again."""
    with _install_lock:
        _uninstall_locked()


def status(offset: timedelta, fired: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What `python -m infra.local clock` prints: the stack's now (UTC and Seoul), the offset,
    and, after a move, the schedules it fired."""
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC) + offset
    document: dict[str, Any] = {
        "now": now.isoformat(timespec="seconds"),
        "now_seoul": now.astimezone(ZoneInfo("Asia/Seoul")).isoformat(timespec="seconds"),
        "offset": describe(offset),
        "offset_s": int(offset.total_seconds()),
    }
    if fired is not None:
        document["fired"] = [
            {k: f[k] for k in ("name", "at", "ok", "result", "error") if k in f} for f in fired
        ]
    return document
