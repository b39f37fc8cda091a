"""Korean mobile numbers: their canonical form, the keyed hash that is the only form in which
a number is kept, and redaction of numbers written anywhere in free text."""

from __future__ import annotations

import hashlib
import hmac
import re

# Korean mobile numbers: 010 with 8 digits, or the legacy 011/016/017/018/019 with 7 or 8.
_MOBILE = re.compile(r"^01(?:0\d{8}|[16789]\d{7,8})$")
# What a phone number may look like inside free text, for redaction.
PHONE_IN_TEXT = re.compile(r"(?:\+?\(?82\)?[\s.()-]*|\(?0)1[016789][\s.()-]*\d{3,4}[\s.()-]*\d{4}")


def normalize_mobile(raw: str) -> str:
    """Canonical national form (01012345678) of a Korean mobile number, or ValueError."""
    digits = re.sub(r"[\s().-]", "", raw)
    if digits.startswith("+82"):
        digits = "0" + digits[3:]
    elif digits.startswith("82") and len(digits) >= 11:
        digits = "0" + digits[2:]
    if not _MOBILE.match(digits):
        raise ValueError("not a Korean mobile number")
    return digits


def phone_hash(normalized: str, key: bytes) -> str:
    """Keyed hash of a phone number: the only form in which a number is stored."""
    return hmac.new(key, normalized.encode("ascii"), hashlib.sha256).hexdigest()


def redact_phones(text: str) -> str:
    return PHONE_IN_TEXT.sub("<phone>", text)
