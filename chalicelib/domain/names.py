"""The one rule for names the city shows or files: display names (leaderboards, shown to
every citizen), challenge titles and payout account holders (the bank-transfer file). What
one person writes must read the same on every screen and never pass for someone else.

Built on Unicode's own data (chalicelib.domain.unicode_names; docs/public-names.md):
1. Refused, naming the character, its class and its position (1-based, in code points of
   the text as sent): controls and line separators; Default_Ignorable_Code_Point (zero-width
   characters, joiners, bidi controls, variation selectors, Mongolian and Khmer fillers,
   the combining grapheme joiner, Hangul fillers, the soft hyphen, tags...) and the braille
   blank, which looks the same; other format characters; surrogates, private use and
   unassigned code points. One exception, so that emoji typed on a phone keep working:
   VS16 (U+FE0F) right after a pictograph, and a ZWJ between two pictographs, build one
   visible emoji rather than hide anything (display names and titles only).
2. NFKC, then inner runs of spaces become one space and the ends are trimmed: the stored
   form, so full-width or mathematical letters cannot make a look-alike of a name.
3. A combining mark with no base (first, or after a space) and more than 3 marks stacked
   on one base are refused.
4. Each word (text between spaces, punctuation and symbols) must be in one script, or be
   covered by Latin + Han + Hangul, Latin + Han + Hiragana + Katakana or Latin + Han +
   Bopomofo (TR39's Highly Restrictive level): `Kim민수` passes, a Latin word with a
   Cyrillic `а` does not. Different words may use different scripts (`Kim 민수`).
5. Length in characters and in display columns (East Asian Wide and Fullwidth count 2,
   marks 0, glyphs that render far wider than a letter more: see _OVERSIZED).
6. Display names only: not the city's or an official's (chalicelib/data/reserved_names.json,
   compared by TR39 skeleton after NFKC and case folding, spaces, punctuation, symbols and
   trailing digits removed).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from chalicelib.domain import unicode_names as ucd
from chalicelib.errors import Unprocessable

RESERVED_FILE = Path(__file__).resolve().parent.parent / "data" / "reserved_names.json"
MAX_LENGTH: Final = 30
MAX_MARKS: Final = 3
"""Combining marks on one base character: enough for any script, too few to smear a row."""
_VS16: Final = "\ufe0f"
_ZWJ: Final = "\u200d"
_EMOJI_MODIFIERS: Final = range(0x1F3FB, 0x1F400)
# Not Default_Ignorable in Unicode's data, but drawn as a blank all the same.
_BLANKS: Final = frozenset("\u2800")
_HOLDER_PUNCTUATION: Final = frozenset(" .-'·()&")
# Glyphs far wider than a letter in common fonts (our measure, not a Unicode property):
# whole Arabic phrases in one code point that NFKC leaves as they are (U+FDFD, U+FDFE,
# U+FD40.. are found by name below), cuneiform signs, the Javanese rerenggan ornaments
# and the two- and three-em dashes.
_OVERSIZED_CODE_POINTS: Final = {0xA9C1: 3, 0xA9C2: 3, 0x2E3A: 2, 0x2E3B: 3}
_OVERSIZED_SCRIPTS: Final = {"Cuneiform": 4, "Egyptian_Hieroglyphs": 2}
_ARABIC_PHRASE_COLUMNS: Final = 8
# TR39 Highly Restrictive: the script sets a word may mix.
_CJK_COVERS: Final = (
    frozenset({"Latin", "Han", "Hangul"}),
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
)
# TR39's augmentation: Han is also part of Japanese and Korean writing, and so on.
_AUGMENTED: Final = {
    "Han": {"Han_with_Bopomofo", "Japanese", "Korean"},
    "Hiragana": {"Japanese"},
    "Katakana": {"Japanese"},
    "Hangul": {"Korean"},
    "Bopomofo": {"Han_with_Bopomofo"},
}


@dataclass(frozen=True)
class NameRule:
    """How the rule applies to one use."""

    label: str
    max_chars: int
    max_columns: int
    spaces: bool = True
    letters_only: bool = False
    """Holders: letters, marks, spaces and a few joiners (`.-'·()&`), a letter first (a
    leading sign would make a spreadsheet formula of the transfer file's cell)."""
    emoji: bool = True
    reserved: bool = False


DISPLAY_NAME: Final = NameRule("display name", MAX_LENGTH, 32, reserved=True)
TITLE: Final = NameRule("title", 80, 100)
HOLDER: Final = NameRule("holder", 30, 40, letters_only=True, emoji=False)


class NameRefused(ValueError):
    """Why a name is refused: `reason` is a snake_case class, `position` 1-based."""

    def __init__(
        self, reason: str, message: str, position: int | None = None, char: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.position = position
        self.char = char

    def detail(self, field: str) -> dict[str, Any]:
        found: dict[str, Any] = {"field": field, "problem": str(self), "reason": self.reason}
        if self.position is not None:
            found["position"] = self.position
        if self.char is not None:
            found["character"] = f"U+{ord(self.char):04X}"
        return found


def public_name(text: object, *, max_length: int = MAX_LENGTH) -> str:
    """A display name as it will be stored and shown (see judge)."""
    rule = DISPLAY_NAME
    if max_length != rule.max_chars:
        rule = NameRule(rule.label, max_length, max_length * 2, reserved=True)
    return judge(text, rule)


def judged(text: object, rule: NameRule, field: str) -> str:
    """judge, with a refusal as the API's 422 `invalid_<field>` naming the class and place."""
    try:
        return judge(text, rule)
    except NameRefused as e:
        raise Unprocessable(str(e), code=f"invalid_{field}", details=[e.detail(field)]) from e


def judge(text: object, rule: NameRule) -> str:
    """The name as it will be stored (NFKC), or NameRefused saying what and where."""
    name = _collapsed(text, rule, "NFKC")
    # NFKC can itself produce what the rule refuses (U+309B becomes a space and a mark).
    _check_characters(name, rule, normalized=True)
    _check_marks(name, rule, normalized=True)
    _check_length(name, rule)
    width = columns(name)
    if width > rule.max_columns:
        raise NameRefused(
            "too_wide",
            f"a {rule.label} is at most {rule.max_columns} columns wide as shown "
            f"(this one is {width}: wide and oversized characters count more)",
        )
    if not rule.spaces and " " in name:
        raise NameRefused("space", f"a {rule.label} cannot contain spaces")
    if rule.letters_only:
        _check_letters(name, rule)
    _check_scripts(name, rule)
    if rule.reserved:
        _check_reserved(name, rule)
    return name


def _collapsed(text: object, rule: NameRule, form: Literal["NFC", "NFKC"]) -> str:
    """Rules 1 and 3 on the text as sent, then rule 2 in `form`; never empty."""
    if not isinstance(text, str):
        raise NameRefused("not_text", f"a {rule.label} must be text")
    if len(text) > 8 * rule.max_chars:
        raise NameRefused("too_long", f"a {rule.label} has at most {rule.max_chars} characters")
    _check_characters(text, rule)
    _check_marks(text, rule)
    collapsed = " ".join(unicodedata.normalize(form, text).split())
    if not collapsed:
        raise NameRefused("empty", f"a {rule.label} cannot be empty")
    return collapsed


def _check_length(text: str, rule: NameRule) -> None:
    if len(text) > rule.max_chars:
        raise NameRefused("too_long", f"a {rule.label} has at most {rule.max_chars} characters")


# -- staff's free text --------------------------------------------------------------------


@dataclass(frozen=True)
class TextRule:
    """Free text staff write (a correction's reason, a note): rules 1 to 3 only, since it
    names nobody. NFC rather than NFKC (the text is kept as written), spaces collapsed."""

    label: str
    max_chars: int


def judge_text(text: object, rule: TextRule) -> str:
    """The text as it will be stored, or NameRefused saying what and where: controls (line
    breaks too: one line, as the action log and the ledger show it), invisible and format
    characters, lone or stacked marks; empty; longer than `max_chars` once collapsed."""
    as_name = NameRule(rule.label, rule.max_chars, 2 * rule.max_chars)
    written = _collapsed(text, as_name, "NFC")
    _check_length(written, as_name)
    return written


def judged_text(text: object, rule: TextRule) -> str:
    """judge_text, with a refusal as the API's 422 `invalid_<label>` naming the class and
    place."""
    try:
        return judge_text(text, rule)
    except NameRefused as e:
        raise Unprocessable(
            str(e), code=f"invalid_{rule.label}", details=[e.detail(rule.label)]
        ) from e


# -- characters --------------------------------------------------------------------------


def _where(position: int, normalized: bool) -> str:
    return f"at position {position}" + (" once normalized (NFKC)" if normalized else "")


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, '(unnamed)')}"


def _emoji_joiner(text: str, i: int) -> bool:
    """A VS16 or ZWJ that is part of one emoji (`❤️`, `👩‍👩‍👧`), not a hidden character."""
    char = text[i]
    if char == _VS16:
        return i > 0 and ucd.is_pictographic(text[i - 1])
    if char == _ZWJ and 0 < i < len(text) - 1:
        j = i - 1
        while j > 0 and (text[j] == _VS16 or ord(text[j]) in _EMOJI_MODIFIERS):
            j -= 1
        return ucd.is_pictographic(text[j]) and ucd.is_pictographic(text[i + 1])
    return False


def _char_class(char: str) -> str | None:
    """The class of a character no name may hold, or None."""
    category = unicodedata.category(char)
    if category == "Cs":
        return "surrogate"
    if category in ("Cc", "Zl", "Zp"):
        return "control_character"
    if ucd.is_default_ignorable(char) or char in _BLANKS:
        return "invisible_character"
    if category == "Cf":
        return "format_character"
    if category == "Co":
        return "private_use"
    if category == "Cn":
        return "unassigned"
    return None


_CLASS_WORDS: Final = {
    "surrogate": "a lone surrogate",
    "control_character": "a control character",
    "invisible_character": "an invisible character (Unicode Default_Ignorable_Code_Point)",
    "format_character": "a format character",
    "private_use": "a private-use character",
    "unassigned": "an unassigned code point",
}


def _check_characters(text: str, rule: NameRule, normalized: bool = False) -> None:
    for i, char in enumerate(text):
        found = _char_class(char)
        if found is None or (rule.emoji and _emoji_joiner(text, i)):
            continue
        detail = _describe(char) if found != "surrogate" else f"U+{ord(char):04X}"
        raise NameRefused(
            found,
            f"a {rule.label} cannot contain {_CLASS_WORDS[found]}: {detail} "
            f"{_where(i + 1, normalized)}",
            i + 1,
            char,
        )


def _is_mark(char: str) -> bool:
    return unicodedata.category(char)[0] == "M"


def _check_marks(text: str, rule: NameRule, normalized: bool = False) -> None:
    stacked = 0
    for i, char in enumerate(text):
        if not _is_mark(char):
            stacked = 0
            continue
        if char == _VS16 and rule.emoji and _emoji_joiner(text, i):
            continue
        if stacked == 0 and (i == 0 or text[i - 1].isspace()):
            raise NameRefused(
                "lone_mark",
                f"a {rule.label} cannot have a combining mark with nothing to sit on: "
                f"{_describe(char)} {_where(i + 1, normalized)}",
                i + 1,
                char,
            )
        stacked += 1
        if stacked > MAX_MARKS:
            raise NameRefused(
                "stacked_marks",
                f"a {rule.label} cannot stack more than {MAX_MARKS} marks on one character "
                f"({_where(i + 1, normalized)})",
                i + 1,
                char,
            )


def _check_letters(name: str, rule: NameRule) -> None:
    for i, char in enumerate(name):
        category = unicodedata.category(char)
        if category[0] not in "LM" and char not in _HOLDER_PUNCTUATION:
            raise NameRefused(
                "not_a_letter",
                f"a {rule.label} holds letters, spaces and {''.join(sorted(_HOLDER_PUNCTUATION))}"
                f" only: {_describe(char)} at position {i + 1} of the normalized name",
                i + 1,
                char,
            )
    if unicodedata.category(name[0])[0] != "L":
        raise NameRefused("not_a_letter", f"a {rule.label} starts with a letter", 1, name[0])


# -- width -------------------------------------------------------------------------------


def char_columns(char: str) -> int:
    """How many columns of a monospaced row one character takes, roughly as shown."""
    if _is_mark(char) or ucd.is_default_ignorable(char):
        return 0
    cp = ord(char)
    if cp in _OVERSIZED_CODE_POINTS:
        return _OVERSIZED_CODE_POINTS[cp]
    if unicodedata.name(char, "").startswith("ARABIC LIGATURE"):
        # Ligatures NFKC leaves whole are phrases of several words in one glyph.
        return _ARABIC_PHRASE_COLUMNS
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 2
    for script in ucd.script_extensions(char):
        if script in _OVERSIZED_SCRIPTS:
            return _OVERSIZED_SCRIPTS[script]
    return 1


def columns(name: str) -> int:
    return sum(char_columns(c) for c in name)


# -- scripts -----------------------------------------------------------------------------


def _words(name: str) -> list[str]:
    """Runs of letters, marks and digits: the parts between spaces, punctuation, symbols."""
    found: list[str] = []
    current: list[str] = []
    for char in name:
        if unicodedata.category(char)[0] in "LMN":
            current.append(char)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def _augmented(scripts: frozenset[str]) -> set[str]:
    out = set(scripts)
    for script in scripts:
        out |= _AUGMENTED.get(script, set())
    return out


def _check_scripts(name: str, rule: NameRule) -> None:
    for word in _words(name):
        sets = [s for s in (ucd.script_extensions(c) for c in word) if not s <= ucd.COMMON]
        if not sets:
            continue
        resolved = _augmented(sets[0])
        for s in sets[1:]:
            resolved &= _augmented(s)
        if resolved:
            continue
        if any(all(s & cover for s in sets) for cover in _CJK_COVERS):
            continue
        seen = sorted({min(s) for s in sets})
        raise NameRefused(
            "mixed_script",
            f"a {rule.label} cannot mix scripts within one word ({' + '.join(seen)} in "
            f"{word!r}): letters of one script can pass for another's",
        )


# -- reserved words ----------------------------------------------------------------------


def _key(part: str) -> str:
    """A word compared the way look-alikes compare: case-folded TR39 skeleton, twice so that
    a capital's prototype folds too; symbols and punctuation the skeleton yields dropped."""
    text = part.casefold()
    for _ in range(2):
        text = ucd.skeleton(text).casefold()
    return "".join(c for c in text if unicodedata.category(c)[0] in "LMN")


def _word_key(word: str) -> str:
    return _key(word.rstrip("0123456789"))


@dataclass(frozen=True)
class _Reserved:
    text: str
    key: str
    match: str


@cache
def reserved_words() -> tuple[_Reserved, ...]:
    raw = json.loads(RESERVED_FILE.read_text(encoding="utf-8"))
    words = []
    for entry in raw["reserved"]:
        text = unicodedata.normalize("NFKC", entry["text"])
        words.append(_Reserved(text, "".join(_key(w) for w in _words(text)), entry["match"]))
    return tuple(words)


def _check_reserved(name: str, rule: NameRule) -> None:
    keys = [_word_key(w) for w in _words(name)]
    whole = _word_key("".join(_words(name)))
    for reserved in reserved_words():
        k = reserved.key
        if reserved.match == "anywhere":
            hit = k in whole
        elif reserved.match == "suffix":
            hit = whole.endswith(k) or any(w.endswith(k) for w in keys)
        else:
            hit = whole == k or k in keys
        if hit:
            raise NameRefused(
                "reserved_name",
                f"a {rule.label} cannot read as {reserved.text!r}: it is kept for the city "
                "and its staff",
            )
