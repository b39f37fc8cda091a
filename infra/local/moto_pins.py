"""What our moto patches were written against: one check for all of them.

Each patch pins the moto version and a digest of the source of every moto function or module
it copies or relies on; `differences` names what changed, so a moto upgrade fails the
patches' guard tests loudly instead of breaking the local stack quietly.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

import moto

MOTO_VERSION = "5.2.5"
log = logging.getLogger(__name__)


def source_digest(obj: Any) -> str:
    """sha256 (first 16 hex digits) of `inspect.getsource(obj)`."""
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


def differences(
    pinned: Mapping[str, Any],
    expected: Mapping[str, str],
    original: Callable[[Any], Any] = inspect.unwrap,
) -> list[str]:
    """What differs from the moto a patch was written against (empty: nothing). `original`
    finds moto's own object under any wrapper of ours."""
    problems = []
    if moto.__version__ != MOTO_VERSION:
        problems.append(f"moto is {moto.__version__}, the patch was written for {MOTO_VERSION}")
    for name, obj in pinned.items():
        digest = source_digest(original(obj))
        if expected.get(name) != digest:
            problems.append(f"{name}: source sha256 {digest}, expected {expected.get(name)}")
    return problems


def still_fits(patch: str, consequence: str, problems: list[str]) -> bool:
    """True when nothing changed under `patch`; else logs what did and what the stack does
    instead (`consequence`)."""
    if problems:
        log.warning("moto changed under %s (%s): %s", patch, consequence, "; ".join(problems))
    return not problems
