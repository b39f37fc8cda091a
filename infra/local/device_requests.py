"""Devices provisioned while the local stack runs (`python -m iot provision`).

AWS IoT Core accepts a new thing's certificate as soon as it is registered and its policy
attached. The local broker knows devices through its ACL, written at start; so provisioning
leaves a record in `<state_dir>/provisioned/<id>.json` (id, type, certificate paths) and the
running stack's watcher grants that device its topics, makes mosquitto reload its ACL
(SIGHUP, no restart: connected devices stay connected), adds it to stack.json, and answers
with `<id>.ready`. At the next start the records are read again, so the device keeps its
access. Same file handshake as the scheduler's `fire` requests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FOLDER = "provisioned"


def provisioned_dir(state_dir: Path) -> Path:
    return Path(state_dir) / FOLDER


def known_devices(state_dir: Path) -> list[dict[str, Any]]:
    """The records of every device provisioned into this state folder, oldest first."""
    folder = provisioned_dir(state_dir)
    records = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and {"device_id", "type"} <= record.keys():
            records.append(record)
    return records


def request_access(state_dir: Path, record: dict[str, Any], timeout: float = 15) -> None:
    """Leave the device's record and wait until the running stack's broker accepts it.

    TimeoutError when no stack answers (the record stays: the next `up` grants it)."""
    folder = provisioned_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    device_id = str(record["device_id"])
    ready = folder / f"{device_id}.ready"
    ready.unlink(missing_ok=True)
    tmp = folder / f".{device_id}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.replace(folder / f"{device_id}.json")
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no running local stack granted {device_id} within {timeout}s "
                f"(is `python -m infra.local up --state-dir {state_dir}` running?)"
            )
        time.sleep(0.05)


class ProvisionedDeviceWatcher:
    """Polls the records folder; calls `on_device(record)` once per new or changed record."""

    def __init__(
        self,
        state_dir: Path,
        on_device: Callable[[dict[str, Any]], None],
        poll_s: float = 0.2,
    ) -> None:
        self.folder = provisioned_dir(state_dir)
        self.on_device = on_device
        self.poll_s = poll_s
        self._seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="provisioned-devices", daemon=True)

    def mark_known(self) -> None:
        """Records present at start were granted with the fleet: answer them, don't redo."""
        for path in self.folder.glob("*.json"):
            with contextlib.suppress(OSError):
                self._seen[path.name] = path.stat().st_mtime
                path.with_suffix(".ready").touch()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def poll(self) -> None:
        for path in self.folder.glob("*.json"):
            try:
                mtime = path.stat().st_mtime
                if self._seen.get(path.name) == mtime:
                    continue
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            self._seen[path.name] = mtime
            try:
                self.on_device(record)
            except Exception:
                log.exception("granting provisioned device %s failed", path.name)
                continue
            path.with_suffix(".ready").touch()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()
