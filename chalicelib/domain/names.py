"""The rule for names the city shows to everyone (display names on leaderboards, challenge
titles): what one citizen writes must read the same on every other citizen's screen.

So: NFC-normalized (one spelling per name, so two names that look alike compare alike),
no control or format characters (those include the bidirectional overrides and isolates
that reorder a row, and zero-width characters that hide text or make lookalikes), no
unassigned or private-use code points, no marks stacked past three, and 1..30 characters
once trimmed (inner runs of spaces become one). Every script
and emoji are welcome: a zero-width joiner is allowed only between two emoji, where it
builds one emoji (a family, a profession) rather than hiding anything.
"""

from __future__ import annotations

import unicodedata
from typing import Final

MAX_LENGTH: Final = 30
MAX_MARKS: Final = 3
"""Combining marks on one base character: enough for any script, too few to smear a row."""
_ZWJ: Final = "\u200d"
_VARIATION_SELECTORS: Final = frozenset(chr(c) for c in range(0xFE00, 0xFE10))
# Categories never shown as themselves: controls, formats (bidi marks, zero-width ones),
# surrogates, private use, unassigned; and line or paragraph separators.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Blank-looking characters that are not category Cf: Hangul fillers and the braille blank.
_INVISIBLE: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" and ord(char) >= 0x2190


def public_name(text: str, *, max_length: int = MAX_LENGTH) -> str:
    """The name as it will be stored and shown, or ValueError saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError("a name must be text")
    name = unicodedata.normalize("NFC", text).strip()
    # Inner runs of spaces of any kind become one ASCII space: no look-alike padding.
    name = " ".join(name.split())
    if not name:
        raise ValueError("a name cannot be empty")
    if len(name) > max_length:
        raise ValueError(f"a name has at most {max_length} characters")
    marks = 0
    for index, char in enumerate(name):
        if char == _ZWJ and 0 < index < len(name) - 1:
            before = name[index - 1]
            if before in _VARIATION_SELECTORS and index > 1:
                before = name[index - 2]
            if _is_emoji(before) and _is_emoji(name[index + 1]):
                continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES or char in _INVISIBLE:
            raise ValueError(
                f"a name cannot contain the invisible or control character U+{ord(char):04X}"
            )
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS:
                raise ValueError("a name cannot stack more than 3 marks on one character")
        else:
            marks = 0
    return name
