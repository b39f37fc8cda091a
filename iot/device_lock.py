"""One process per device identity on a machine.

Two connections with one client id kick each other off the broker (MQTT: "session taken
over"), each reconnecting in turn. A device client takes an exclusive lock on its identity
before it connects: a second process (the CLI beside the demo's simulated robot, a robot
agent started twice) is refused with a message naming the holder.

The lock is an `flock` on a file per broker and device id, in a folder of the machine's
temporary directory (`$GIMHAE_DEVICE_LOCKS` to choose another): the kernel releases it
when the holder dies, so a lock left by a killed process never blocks anyone. Keyed by
the broker (host and port), so two local stacks side by side do not block each other.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

from iot.mqtt5 import MqttError

ENVIRONMENT = "GIMHAE_DEVICE_LOCKS"


class DeviceBusyError(MqttError):
    """Another process (or client) holds this device's identity on this machine."""


class LockFolderError(MqttError):
    """The lock folder cannot be used: not creatable or writable, or not safely ours (a
    symlink, another user's, open to others: in a shared /tmp, anyone could plant a lock
    file there as a symlink to one of our files, which taking the lock would truncate)."""


def lock_folder() -> Path:
    chosen = os.environ.get(ENVIRONMENT)
    if chosen:  # chosen by the user: a symlink of theirs is fine (checked once resolved)
        return Path(chosen).resolve()
    return Path(tempfile.gettempdir()) / f"gimhae-device-locks-{os.getuid()}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:120]


class DeviceLock:
    """An exclusive, non-blocking lock on (broker, device id); `acquire` raises
    DeviceBusyError when it is held elsewhere, `release` is idempotent."""

    def __init__(self, device_id: str, host: str, port: int, folder: Path | None = None) -> None:
        self.device_id = device_id
        self.where = f"{host}:{port}"
        self.path = (folder or lock_folder()) / f"{_safe(host)}_{port}_{_safe(device_id)}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            _check_private(folder)
            # O_NOFOLLOW: a lock file planted as a symlink is refused, never followed
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            if e.errno == errno.ELOOP:
                e.strerror = f"{self.path.name} there is a symlink, not a lock file"
            raise LockFolderError(
                f"cannot take {self.device_id}'s identity lock in {folder}: "
                f"{e.strerror or e}; set ${ENVIRONMENT} to a folder of your own"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise DeviceBusyError(
                f"{self.device_id} is already connected to {self.where} from this machine "
                f"({holder or 'another client'}); one device identity, one connection: stop "
                "that one first (a second connection would take its session over)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}: {_command()}".encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock


def _check_private(folder: Path) -> None:
    """The folder is a real directory of this user's, closed to others (OSError if not)."""
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{folder} is not a folder (a symlink?)")
    if st.st_uid != os.getuid():
        raise OSError(f"{folder} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o002:
        raise OSError(f"{folder} is writable by others (mode {stat.S_IMODE(st.st_mode):o})")


def _read(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 400).decode(errors="replace").strip()
    except OSError:
        return ""


def _command() -> str:
    """How the holder was started, as typed: `python -m infra.local up --demo`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    words = list(sys.argv)
    if spec is not None and words:
        words[0] = f"python -m {spec.name.removesuffix('.__main__')}"
    elif words:
        words[0] = Path(words[0]).name  # a console script: gimhae-device
    text = " ".join(words) or "python"
    return text if len(text) <= 160 else text[:157] + "..."
