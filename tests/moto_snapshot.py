"""A provisioned emulated account, saved once and put back before each test.

moto keeps each service's state in one backend object per account and region
(`dynamodb_backends[account][region]`), and resets a backend by replacing its instance
`__dict__` (`BaseBackend.reset`). Provisioning the dev stage's account through the public API
takes ~0.7 s; putting saved `__dict__`s back takes ~2 ms. The public API cannot do the same:
moto keeps the SMS it sent and iot-data's publishes with no call that clears them, deleting
items writes REMOVE records into the tables' streams, and a KMS key cannot be deleted at once.

This module is the one place the tests reach into moto's internals;
tests/functional/test_moto_snapshot.py fails loudly if moto changes what it relies on.
"""

from __future__ import annotations

import io
import pickle
import threading
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend

# Locks belong to no test: each restore gets fresh ones.
_LOCKS: dict[type, str] = {
    type(threading.Lock()): "lock",
    type(threading.RLock()): "rlock",
    threading.Condition: "condition",
}
_NEW_LOCK = {"lock": threading.Lock, "rlock": threading.RLock, "condition": threading.Condition}


@dataclass(frozen=True)
class Snapshot:
    """Every backend moto held when it was taken: where each lives, and its state, pickled
    (so no test can change the saved copy)."""

    backends: tuple[tuple[BackendDict[Any], str, str], ...]
    state: bytes
    shared: tuple[Any, ...]  # immutable objects pickle cannot copy (cryptography's keys)


class _Saver(pickle.Pickler):
    """Pickles backends' state, except what must not be copied: a backend itself (moto's
    models point at theirs, e.g. an SNS topic at its backend), locks, and keys."""

    def __init__(self, file: io.BytesIO, backends: list[BaseBackend], shared: list[Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._backends = {id(b): i for i, b in enumerate(backends)}
        self._shared = shared

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, BaseBackend):
            if id(obj) not in self._backends:
                raise TypeError(f"{type(obj).__name__} is not in any of moto's BackendDicts")
            return ("backend", self._backends[id(obj)])
        lock = _LOCKS.get(type(obj))
        if lock is not None:
            return ("lock", lock)
        if type(obj).__module__.startswith("cryptography."):
            self._shared.append(obj)
            return ("shared", len(self._shared) - 1)
        return None


class _Loader(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, backends: list[BaseBackend], shared: tuple[Any, ...]):
        super().__init__(file)
        self._backends = backends
        self._shared = shared

    def persistent_load(self, pid: Any) -> Any:
        kind, value = pid
        if kind == "backend":
            return self._backends[value]  # the live one, whose state is put back below
        if kind == "lock":
            return _NEW_LOCK[value]()
        return self._shared[value]


def take() -> Snapshot:
    """Save the state of every backend moto holds now (call it under `mock_aws`)."""
    where = tuple(
        (found, account, region)
        for found in BackendDict._instances
        for account, region, _ in found.iter_backends()
    )
    backends = [found[account][region] for found, account, region in where]
    shared: list[Any] = []
    out = io.BytesIO()
    _Saver(out, backends, shared).dump([backend.__dict__ for backend in backends])
    return Snapshot(where, out.getvalue(), tuple(shared))


def restore(snapshot: Snapshot) -> None:
    """Put moto back exactly as it was when the snapshot was taken: moto's own reset (what
    `mock_aws` does when it starts) empties every backend, then each saved one gets its state
    back; a backend the snapshot does not hold stays empty."""
    BackendDict.reset()
    backends = [found[account][region] for found, account, region in snapshot.backends]
    states = _Loader(io.BytesIO(snapshot.state), backends, snapshot.shared).load()
    for backend, state in zip(backends, states, strict=True):
        backend.__dict__ = state
