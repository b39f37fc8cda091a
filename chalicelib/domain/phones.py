"""Korean mobile numbers: their canonical form, the keyed hash that is the only form in which
a number is kept, and redaction of numbers written anywhere in free text.

Both directions rest on one reading of a written number (`_national_digits`): separators
dropped, the +82 country code (with or without the trunk 0 in brackets) turned into the
national form. Acceptance reads ASCII digits only, so a number in full-width or other
scripts' digits is refused as a number; redaction first folds every script's digits to
ASCII and then applies the same reading, so it hides whatever a person could still read as
a phone number, whether the deposit path would have accepted it or not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Final

# Korean mobile numbers: 010 with 8 digits, or the legacy 011/016/017/018/019 with 7 or 8.
_MOBILE: Final = re.compile(r"01(?:0[0-9]{8}|[16789][0-9]{7,8})", re.ASCII)
# What may stand between the digits of a written number.
_SEPARATORS: Final = (
    " \t\u00a0\u3000.()/-"  # spaces (ideographic too), dots, brackets, slash, hyphen
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"  # Unicode dashes and minus
    "\uff0d\uff08\uff09\uff0e"  # full-width hyphen, brackets and dot
)
_SEPARATOR_CLASS: Final = "[" + re.escape(_SEPARATORS) + "]"
_MAX_WRITTEN: Final = 40


def _national_digits(written: str) -> str:
    """A written number read as national digits: separators out, `+82`/`82` and an optional
    trunk `(0)` after it turned into the leading 0. No check that it is a mobile number."""
    digits = re.sub(_SEPARATOR_CLASS, "", written.replace("\uff0b", "+"))
    if digits.startswith("+82"):
        digits = "0" + digits[3:].removeprefix("0")
    elif digits.startswith("82") and len(digits) >= 11:
        digits = "0" + digits[2:].removeprefix("0")
    return digits


def normalize_mobile(raw: str) -> str:
    """Canonical national form (01012345678) of a Korean mobile number, or ValueError.

    Only ASCII digits count: `０１０…` or Arabic-Indic digits are refused here (a clear 422,
    or `invalid_payload` from a robot) rather than hashed under a second spelling."""
    if len(raw) > _MAX_WRITTEN:
        raise ValueError("not a Korean mobile number")
    digits = _national_digits(raw)
    if not digits.isascii() or not _MOBILE.fullmatch(digits):
        raise ValueError("not a Korean mobile number (ASCII digits 0-9 only)")
    return digits


def phone_hash(normalized: str, key: bytes) -> str:
    """Keyed hash of a phone number: the only form in which a number is stored."""
    return hmac.new(key, normalized.encode("ascii"), hashlib.sha256).hexdigest()


# A run of digits in any script with separators between them, optionally led by `+`; a
# JSON escape of a digit (`\uff10`) counts as that digit, so an escaped number is found too.
_ESCAPED_DIGIT: Final = (
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a pair: digits past U+FFFF
    r"|\\u[0-9a-fA-F]{4}"
)
_DIGIT: Final = rf"(?:\d|{_ESCAPED_DIGIT})"
_WRITTEN_NUMBER: Final = re.compile(
    rf"(?:[+\uff0b]{_SEPARATOR_CLASS}{{0,3}})?{_DIGIT}(?:{_SEPARATOR_CLASS}{{0,3}}{_DIGIT})*"
)
# A mobile number somewhere inside a run's national digits (a run may join two numbers).
_MOBILE_INSIDE: Final = re.compile(r"01[016789][0-9]{7}", re.ASCII)


def _fold_digits(written: str) -> str:
    """Every script's decimal digits (and JSON escapes of them) as ASCII digits; other
    escapes become `_`, so their hex digits are not read as a number."""

    def unescape(match: re.Match[str]) -> str:
        escaped = match.group()
        if len(escaped) == 12:
            high, low = int(escaped[2:6], 16), int(escaped[8:], 16)
            char = chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        else:
            char = chr(int(escaped[2:], 16))
        return char if char.isdecimal() or char in _SEPARATORS else "_"

    text = re.sub(_ESCAPED_DIGIT, unescape, written)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def looks_like_phone(written: str) -> bool:
    """Whether a run of digits could be read as a Korean mobile number."""
    digits = _national_digits(_fold_digits(written))
    digits = re.sub(r"\D", "", digits, flags=re.ASCII)
    return bool(_MOBILE_INSIDE.search(digits) or _MOBILE.fullmatch("0" + digits))


def redact_phones(text: str) -> str:
    """The text with every run of digits that reads as a mobile number replaced by <phone>."""
    return _WRITTEN_NUMBER.sub(
        lambda m: "<phone>" if looks_like_phone(m.group()) else m.group(), text
    )
