"""Identifiers that sort by time (Crockford base32, like a ULID)."""

from __future__ import annotations

import os
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def sortable_id(moment: datetime) -> str:
    """26 characters: 10 of milliseconds since the epoch, 16 random."""
    millis = int(moment.timestamp() * 1000)
    return _b32(millis, 10) + _b32(int.from_bytes(os.urandom(10), "big"), 16)
