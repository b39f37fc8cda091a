"""The scan every resilience test ends with: no phone number (in any writing the deposit path
accepts, or that a person could still read as one), no payout account number and no bearer
token in a log line, a quarantine entry or a dead-letter body the suite produced."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Final

from chalicelib.domain.phones import _WRITTEN_NUMBER, looks_like_phone, redact_phones

# A JWT (base64url JSON header and claims) or a bearer credential written out.
_TOKEN: Final = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|(?i:bearer)\s+[\w.~+/-]{16,}")
# A payout account number: 10-16 digits in hyphenated groups, standing alone.
_ACCOUNT: Final = re.compile(r"(?<![\w-])\d{2,8}(?:-\d{1,8}){1,4}(?![\w-])", re.ASCII)
# Ids that are not numbers however their digits fall: a UUID (request and correlation ids)
# can hold `01-8799-4458`, which reads as a legacy mobile number.
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_SEPARATORS: Final = re.compile(r"[\s.()/\-\u2010-\u2015\u2212\uff0d\uff08\uff09\uff0e]")

# What every scan found, for the suite's summary.
SCANNED: Counter[str] = Counter()


def _phones(text: str) -> list[str]:
    """The runs of digits the one redaction would hide (what a person could read as a
    mobile number)."""
    redacted = redact_phones(text)
    if redacted == text:
        return []
    return [m.group() for m in _WRITTEN_NUMBER.finditer(text) if looks_like_phone(m.group())]


def _accounts(text: str) -> list[str]:
    return [
        m.group()
        for m in _ACCOUNT.finditer(text)
        if 10 <= sum(c.isdigit() for c in m.group()) <= 16
    ]


def leaks(
    kind: str, texts: Iterable[str], known_numbers: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """(what leaked, the text) for each text holding a phone number, an account number or a
    token; `known_numbers` (digits only) are also searched with separators removed, so a
    number the suite used is found however it was written."""
    known = [n for n in known_numbers if n]
    found: list[tuple[str, str]] = []
    for written in texts:
        SCANNED[kind] += 1
        text = _UUID.sub("<uuid>", written)
        phones = _phones(text)
        if phones:
            found.append((f"phone {phones}", text))
        if _TOKEN.search(text):
            found.append(("token", text))
        if _accounts(text):
            found.append(("account", text))
        squeezed = _SEPARATORS.sub("", text)
        if any(n in squeezed for n in known):
            found.append(("known number", text))
    return found
