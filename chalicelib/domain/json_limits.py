"""The one JSON parser for everything that arrives from outside: request bodies, cursors,
device payloads, rule envelopes, the local rules engine.

Python's json module recurses once per nesting level, so a few thousand `[` raise
RecursionError (not ValueError) and each caller had to remember that. Here depth and size
are checked before parsing, in one linear pass over the structural characters, so the
parser never meets a document it cannot take and every refusal is one exception type
carrying a short, stable reason.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, Literal

MAX_DEPTH: Final = 32
"""Deeper than any document the city exchanges (its deepest is 3 levels) by far."""
MAX_BYTES: Final = 256 * 1024

JsonProblem = Literal["too_large", "too_deep", "malformed"]

# Strings (skipped whole, escapes included) and the brackets that open or close a level.
_STRUCTURE: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


class JsonRejected(ValueError):
    """The text is not JSON this city accepts; `problem` says which limit it broke."""

    def __init__(self, problem: JsonProblem, message: str) -> None:
        super().__init__(message)
        self.problem: JsonProblem = problem


def nesting_depth(text: str, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects, ignoring brackets inside strings. The scan
    stops once the depth passes `stop_above`, so a hostile document costs a few brackets."""
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise JsonRejected("malformed", f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object that names a key twice is refused: parsers disagree on which value wins
    (Python keeps the last, others the first), so a signer, a gateway and a handler could
    each read a different claim from one document. The key is not quoted: it is the
    sender's text and may hold anything, a phone number included."""
    document = dict(pairs)
    if len(document) != len(pairs):
        raise JsonRejected("malformed", "an object names the same key twice")
    return document


def loads(raw: str | bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one JSON document within the limits, or raise JsonRejected.

    NaN and Infinity are refused (they are not JSON, and no field of ours may hold them), as
    is an object naming a key twice; bytes must be UTF-8.
    """
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JsonRejected("too_large", f"the document is {size} bytes, over {max_bytes}")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonRejected("malformed", "the document is not UTF-8") from e
    else:
        text = raw
    # Fewer openers than the limit cannot nest past it: most documents skip the scan.
    openers = text.count("[") + text.count("{")
    if openers > max_depth and nesting_depth(text, stop_above=max_depth) > max_depth:
        raise JsonRejected("too_deep", f"the document is nested deeper than {max_depth} levels")
    try:
        document = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except JsonRejected:
        raise
    except (ValueError, RecursionError) as e:
        # RecursionError cannot happen under the depth limit; kept so no caller ever sees it.
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise JsonRejected("malformed", f"not valid JSON: {first}") from e
    if _SURROGATE_ESCAPE.search(text) and not _is_text(document):
        raise JsonRejected("malformed", "a string holds an unpaired surrogate (not text)")
    return document


def _is_text(value: Any) -> bool:
    """Whether every string in the document is encodable text: json accepts an escaped lone
    surrogate (`"\\ud800"`), which no store and no UTF-8 writer downstream can take."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_is_text(k) and _is_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_text(v) for v in value)
    return True
