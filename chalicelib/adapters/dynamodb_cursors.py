"""Pagination cursors: a query's last evaluated key, handed to the caller as an opaque
string and read back as a start key that can only continue the SAME partition (the
caller's own ledger, the quarantine source asked for), whatever the cursor says."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from chalicelib.domain import json_limits
from chalicelib.errors import BadRequest

MAX_CURSOR = 1024
MAX_RANGE_KEY = 128


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, *, hash_attr: str, hash_value: str, range_attr: str
) -> dict[str, Any]:
    """The start key a cursor stands for, rebuilt from its two strings and nothing else:
    a cursor of another partition, or one that is not ours, is a 400 `invalid_cursor`."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json_limits.loads(base64.urlsafe_b64decode(padded.encode()), max_bytes=4096)
        owner = key[hash_attr]["S"]
        start = key[range_attr]["S"]
    except (ValueError, KeyError, TypeError) as e:  # JsonRejected is a ValueError
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from e
    if owner != hash_value or not isinstance(start, str) or not 0 < len(start) <= MAX_RANGE_KEY:
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return {hash_attr: {"S": hash_value}, range_attr: {"S": start}}


def encode_key(key: str) -> str:
    """A cursor over one sort key of the partition being read (base64url, no padding)."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_key(cursor: str, shape: re.Pattern[str]) -> str:
    """The sort key an `encode_key` cursor stands for, if it has the list's key `shape`; the
    caller rebuilds the start key around it, so it only continues the partition read."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from e
    if not shape.fullmatch(key):
        raise BadRequest("the cursor is not valid", code="invalid_cursor")
    return key
