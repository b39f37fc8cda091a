"""Numbers in device payloads, bounded before anything computes with them.

JSON has no limit on a number's size: `1e400` parses to infinity, a 400-digit integer to a
Python int that `float()` cannot convert (OverflowError) and DynamoDB cannot store (38
digits), and `1e-320` to a float DynamoDB refuses as an underflow. Each of those once
crashed a handler until its message was dead-lettered. Every numeric field of every device
payload (readings, counts, bin levels, versions) is therefore one of the types below, whose
check runs first, on the value as parsed: a number outside any plausible magnitude is
refused like any other impossible reading, before a float conversion, a comparison with a
float or a database write can meet it. Booleans and numeric strings are not numbers
(the strict types refuse them).
"""

from __future__ import annotations

import math
from typing import Annotated, Final

from pydantic import BeforeValidator, StrictFloat, StrictInt
from pydantic_core import PydanticCustomError

MAX_MAGNITUDE: Final = 10**15
"""Far above any reading, count or version a device sends, and exact as a float."""
MIN_MAGNITUDE: Final = 1e-100
"""DynamoDB refuses non-zero magnitudes under 1e-130; float noise (5.6e-17) stays far above."""
IMPLAUSIBLE: Final = "implausible_number"
"""The pydantic error type of a refused magnitude (the fleet quarantines it as an
implausible reading, not as a malformed payload)."""


def _shown(value: int | float) -> str:
    if isinstance(value, int) and not -(10**20) < value < 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    return repr(value)


def bounded(value: object) -> object:
    """A number within the plausible magnitudes, or PydanticCustomError. Anything that
    is not a number passes through untouched for the strict type after it to refuse."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError(IMPLAUSIBLE, "{value} is not a finite number", {"value": value})
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        raise PydanticCustomError(
            IMPLAUSIBLE, "{value} is beyond any plausible value", {"value": _shown(value)}
        )
    if value != 0 and -MIN_MAGNITUDE < value < MIN_MAGNITUDE:
        raise PydanticCustomError(
            IMPLAUSIBLE,
            "{value} is too close to zero to measure",
            {"value": _shown(value)},
        )
    return value


DeviceNumber = Annotated[StrictFloat | StrictInt, BeforeValidator(bounded)]
"""A reading: an exact JSON number (integer or decimal) of plausible magnitude."""
DeviceInt = Annotated[StrictInt, BeforeValidator(bounded)]
"""A count or a version: an exact JSON integer of plausible magnitude."""
