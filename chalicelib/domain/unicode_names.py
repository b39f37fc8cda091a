"""Unicode's own data that `unicodedata` lacks, for the public-name rule: the
Default_Ignorable_Code_Point and Extended_Pictographic properties, Script_Extensions, and
the confusable prototypes of Unicode TR39 (UTS #39) with its skeleton.

The data is chalicelib/data/unicode_names.json, generated from Debian's `unicode-data`
(UCD 15.0.0) and `python3-icu` (ICU 72's compiled confusables.txt) by
tools/generate_unicode_names.py; never edit it by hand. It is read once, lazily, the first
time a name is judged (about 110 KB, a few milliseconds), so functions that never judge a
name pay nothing at cold start.
"""

from __future__ import annotations

import json
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "unicode_names.json"
COMMON = frozenset({"Common", "Inherited"})


@dataclass(frozen=True)
class _Ranges:
    starts: list[int]
    ends: list[int]
    values: list[object]

    @classmethod
    def of(cls, rows: list[list[object]], value: object = True) -> _Ranges:
        return cls(
            [int(r[0]) for r in rows],  # type: ignore[call-overload]
            [int(r[1]) for r in rows],  # type: ignore[call-overload]
            [r[2:] if len(r) > 2 else value for r in rows],
        )

    def get(self, cp: int) -> object | None:
        i = bisect_right(self.starts, cp) - 1
        if i >= 0 and cp <= self.ends[i]:
            return self.values[i]
        return None


@dataclass(frozen=True)
class _Data:
    unicode_version: str
    default_ignorable: _Ranges
    pictographic: _Ranges
    scripts: list[str]
    script: _Ranges
    extensions: _Ranges
    confusables: dict[int, str]


@cache
def _data() -> _Data:
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return _Data(
        unicode_version=raw["unicode_version"],
        default_ignorable=_Ranges.of(raw["default_ignorable"]),
        pictographic=_Ranges.of(raw["extended_pictographic"]),
        scripts=raw["scripts"],
        script=_Ranges.of(raw["script_ranges"]),
        extensions=_Ranges.of(raw["script_extensions"]),
        confusables={int(k, 16): v for k, v in raw["confusables"].items()},
    )


def unicode_version() -> str:
    return _data().unicode_version


def is_default_ignorable(char: str) -> bool:
    """Unicode's Default_Ignorable_Code_Point: drawn as nothing when not supported."""
    return _data().default_ignorable.get(ord(char)) is not None


def is_pictographic(char: str) -> bool:
    """Unicode's Extended_Pictographic (emoji and the code points reserved for them)."""
    return _data().pictographic.get(ord(char)) is not None


def script_extensions(char: str) -> frozenset[str]:
    """The scripts a character is used with (Script_Extensions, else its Script), long names."""
    data = _data()
    cp = ord(char)
    found = data.extensions.get(cp)
    if isinstance(found, list):
        return frozenset(data.scripts[i] for i in found)
    script = data.script.get(cp)
    if isinstance(script, list):
        return frozenset({data.scripts[script[0]]})
    return frozenset({"Unknown"})


def skeleton(text: str) -> str:
    """TR39's skeleton: NFD, each code point replaced by its confusable prototype, NFD.
    Two strings with the same skeleton look alike."""
    table = _data().confusables
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(ord(c), c) for c in decomposed)
    return unicodedata.normalize("NFD", mapped)
