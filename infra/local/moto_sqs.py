"""moto 5.2.5's SQS receive, made safe for concurrent pollers of one queue.

`SQSBackend.receive_message` checks that a message is visible and then marks it received,
with nothing in between holding other request threads off: two pollers receiving from one
queue at once (the local SQS event source runs several, as Lambda does) can both get the
same message. SQS's standard queues may deliver twice too, but rarely; moto under
concurrent pollers does it often. `install()` (idempotent) serialises receives, deletes and
visibility changes per queue with one lock per queue. A long poll on an empty queue holds
its queue's lock while it waits (at most `WaitTimeSeconds`): the other pollers of that
queue would find nothing either; senders never take the lock.

It also makes a receive cost what it returns: for every message it hands out, moto checks
the retention period through `get_queue_attributes`, which builds the queue's whole attribute
dict three times, each counting every message of the queue (with a clock read per message);
the check reads the queue's retention period instead, with the same outcome.

And it gives moto's SQS module a cheaper clock. moto reads the time for every message it
looks at (is it visible, is it delayed) through `unix_time`, which builds two datetimes and
imports `datetime.UTC` on every call: a send, which counts the queue's messages (three
passes) to read one attribute, cost 1 ms with 50 messages in the queue, 95 % of it the
clock. The module's `unix_time` and `unix_time_millis` read `time.time()` instead (the
same clock, as a float); given a datetime, they are moto's own.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import moto.sqs.models as sqs_models
from moto.core import utils as moto_utils
from moto.sqs.models import Message, Queue, SQSBackend

from infra.local import moto_pins

_MARK = "_gimhae_moto_sqs"
_install_lock = threading.Lock()
_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()

# (method, its queue-name argument's position after self)
LOCKED_METHODS = (
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
)


# sha256 (first 16 hex digits) of the source of what the retention check replaces or relies
# on: the period kept as an int attribute of the queue, the check's outcome from it alone;
# and the clock the module's faster one stands in for (epoch seconds, UTC).
EXPECTED_SOURCES: dict[str, str] = {
    "SQSBackend.is_message_valid_based_on_retention_period": "cca23b94a5f3af9d",
    "Queue._set_attributes": "4b7aaf3f46363f13",
    "SQSBackend.receive_message": "065f3e5e7d214408",
    "unix_time": "f0576ec9e5f586e5",
    "unix_time_millis": "7a37e1337d02962e",
    "utcnow": "7b8bb404c4f6dc02",
}


def _pinned() -> dict[str, Callable[..., Any]]:
    return {
        "SQSBackend.is_message_valid_based_on_retention_period": _own(
            SQSBackend.is_message_valid_based_on_retention_period
        ),
        "Queue._set_attributes": Queue._set_attributes,
        "SQSBackend.receive_message": _own(SQSBackend.receive_message),
        "unix_time": moto_utils.unix_time,
        "unix_time_millis": moto_utils.unix_time_millis,
        "utcnow": moto_utils.utcnow,
    }


def _own(fn: Callable[..., Any]) -> Callable[..., Any]:
    return getattr(fn, _MARK, fn)


def check() -> list[str]:
    """What differs from the moto this patch was written against (empty: nothing)."""
    return moto_pins.differences(_pinned(), EXPECTED_SOURCES, _own)


def _within_retention(self: SQSBackend, queue_name: str, message: Message) -> bool:
    queue: Any = self.get_queue(queue_name)  # _set_attributes sets the period as an int
    retention_period = int(queue.message_retention_period)
    return bool(retention_period + float(message.sent_timestamp or 0) / 1000 > _unix_time())


RETENTION_CHECK = "is_message_valid_based_on_retention_period"


def _unix_time(dt: Any = None) -> float:
    return time.time() if dt is None else moto_utils.unix_time(dt)


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


CLOCK = {"unix_time": _unix_time, "unix_time_millis": _unix_time_millis}


def queue_lock(queue_name: str) -> threading.RLock:
    with _locks_guard:
        lock = _locks.get(queue_name)
        if lock is None:
            lock = _locks[queue_name] = threading.RLock()
        return lock


def _per_queue(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def locked(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with queue_lock(queue_name):
            return fn(self, queue_name, *args, **kwargs)

    setattr(locked, _MARK, fn)
    return locked


def installed() -> bool:
    return bool(getattr(SQSBackend, _MARK, False))


def install() -> None:
    with _install_lock:
        if installed():
            return
        for name in LOCKED_METHODS:
            setattr(SQSBackend, name, _per_queue(getattr(SQSBackend, name)))
        consequence = "the locks hold; moto's own retention check and clock"
        if moto_pins.still_fits(__name__, consequence, check()):
            setattr(_within_retention, _MARK, getattr(SQSBackend, RETENTION_CHECK))
            setattr(SQSBackend, RETENTION_CHECK, _within_retention)
            for name, clock in CLOCK.items():
                setattr(sqs_models, name, clock)
        setattr(SQSBackend, _MARK, True)


def uninstall() -> None:
    with _install_lock:
        if not installed():
            return
        for name in (*LOCKED_METHODS, RETENTION_CHECK):
            patched = getattr(SQSBackend, name)
            if hasattr(patched, _MARK):
                setattr(SQSBackend, name, getattr(patched, _MARK))
        for name in CLOCK:
            setattr(sqs_models, name, getattr(moto_utils, name))
        delattr(SQSBackend, _MARK)
