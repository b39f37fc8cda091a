"""moto 5.2.5's SQS receive, made safe for concurrent pollers of one queue.

`SQSBackend.receive_message` checks that a message is visible and then marks it received,
with nothing in between holding other request threads off: two pollers receiving from one
queue at once (the local SQS event source runs several, as Lambda does) can both get the
same message. SQS's standard queues may deliver twice too, but rarely; moto under
concurrent pollers does it often. `install()` (idempotent) serialises receives, deletes and
visibility changes per queue with one lock per queue. A long poll on an empty queue holds
its queue's lock while it waits (at most `WaitTimeSeconds`): the other pollers of that
queue would find nothing either; senders never take the lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.sqs.models import SQSBackend

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
        setattr(SQSBackend, _MARK, True)


def uninstall() -> None:
    with _install_lock:
        if not installed():
            return
        for name in LOCKED_METHODS:
            setattr(SQSBackend, name, getattr(getattr(SQSBackend, name), _MARK))
        delattr(SQSBackend, _MARK)
