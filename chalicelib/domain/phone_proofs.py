"""Proving a phone number before it is linked (DESIGN §4): a robot credits whoever holds a
number, so a link is made only by the one who read the SMS code sent to it.

Pure rules: the code and its keyed hash, a verification's life and tries, the limits on
sends and attempts, and the notice the former holder of a moved number gets. Nothing here
keeps a number or a code in clear: a verification holds the number's keyed hash and the
code's keyed hash (bound to the verification, so one code hash says nothing about another).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

CODE_DIGITS: Final = 6
NUMBER_MOVED: Final = "phone_number_moved"
"""The notification kind the former holder of a moved number gets (DESIGN §4c's inbox)."""


@dataclass(frozen=True)
class ProofRules:
    """Configuration (DESIGN §5 style); the defaults and why:

    - a code lives 5 minutes and allows 5 tries (the contract): a guess succeeds with
      probability 5 in 10^6 per verification;
    - a citizen may ask for 5 codes an hour and 10 a day: enough for typos and a slow SMS,
      too few to use the city as an SMS cannon or to collect many guesses;
    - a number may receive 3 codes per 15 minutes and 10 a day, whoever asks: its owner is
      not flooded, and the limit is the same for a held and a free number (no hint);
    - a citizen may try 15 codes an hour across all verifications: with the send limits
      this caps guessing at ~10^-5 an hour, whatever the number of verifications opened.
    """

    code_ttl_seconds: int = 300
    tries: int = 5
    sends_per_citizen_hour: int = 5
    sends_per_citizen_day: int = 10
    sends_per_number_quarter: int = 3
    sends_per_number_day: int = 10
    attempts_per_citizen_hour: int = 15

    def send_limits(self, citizen_id: str, number_hash: str) -> list[Limit]:
        """The windows one send counts in; a send is refused when any is full."""
        return [
            Limit(f"phone-sends#citizen#{citizen_id}#h", self.sends_per_citizen_hour, 3600),
            Limit(f"phone-sends#citizen#{citizen_id}#d", self.sends_per_citizen_day, 86400),
            Limit(f"phone-sends#number#{number_hash}#q", self.sends_per_number_quarter, 900),
            Limit(f"phone-sends#number#{number_hash}#d", self.sends_per_number_day, 86400),
        ]

    def attempt_limit(self, citizen_id: str) -> Limit:
        return Limit(f"phone-attempts#{citizen_id}", self.attempts_per_citizen_hour, 3600)


@dataclass(frozen=True)
class Limit:
    key: str
    """Names a citizen id or a number's keyed hash, never a number."""
    uses: int
    window_s: int


@dataclass(frozen=True)
class Verification:
    verification_id: str
    citizen_id: str
    phone_hash: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    tries_left: int


@dataclass(frozen=True)
class Notice:
    """A message for a citizen's inbox (the shape of DESIGN §4c's notifications); whose
    inbox is the store's to say (the former holder of a number is known only as it moves)."""

    notification_id: str
    kind: str
    title: str
    body: str
    created_at: datetime


class VerificationSpent(Exception):
    """The verification is unknown, another citizen's, expired, used, or out of tries."""


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_verification_id() -> str:
    return secrets.token_urlsafe(18)


def code_hash(key: bytes, verification_id: str, code: str) -> str:
    """Keyed hash of a code, bound to its verification (a sub-key of the phone key, so a
    code hash can never be mistaken for a number's hash)."""
    sub_key = hmac.new(key, b"phone-proof-code", hashlib.sha256).digest()
    message = f"{verification_id}:{code}".encode()
    return hmac.new(sub_key, message, hashlib.sha256).hexdigest()


def code_matches(key: bytes, verification: Verification, code: str) -> bool:
    return hmac.compare_digest(
        code_hash(key, verification.verification_id, code), verification.code_hash
    )


def open_verification(
    citizen_id: str, number_hash: str, code: str, key: bytes, now: datetime, rules: ProofRules
) -> Verification:
    verification_id = new_verification_id()
    return Verification(
        verification_id=verification_id,
        citizen_id=citizen_id,
        phone_hash=number_hash,
        code_hash=code_hash(key, verification_id, code),
        created_at=now,
        expires_at=now + timedelta(seconds=rules.code_ttl_seconds),
        tries_left=rules.tries,
    )


def e164(normalized: str) -> str:
    """A normalized Korean mobile number (01012345678) in E.164 (+821012345678), as SNS
    wants it."""
    return "+82" + normalized[1:]


def sms_text(code: str, ttl_seconds: int) -> str:
    minutes = max(1, ttl_seconds // 60)
    return (
        f"[김해 스마트시티] 인증번호 {code} "
        f"({minutes}분 안에 입력하세요. 타인에게 알려주지 마세요.)"
    )


def number_moved_notice(verification_id: str, now: datetime) -> Notice:
    """What the former holder of a number is told. Its id is derived from the verification
    that moved the number, so a retried move writes the same notice, once."""
    millis = int(now.timestamp() * 1000)
    return Notice(
        notification_id=f"{millis:013d}-{NUMBER_MOVED}-{verification_id}",
        kind=NUMBER_MOVED,
        title="휴대폰 번호 연결이 해제되었습니다",
        body=(
            "회원님 계정에 연결되어 있던 휴대폰 번호를 다른 회원이 문자 인증으로 연결했습니다. "
            "이제 재활용 로봇에서 이 번호로 적립하는 포인트는 회원님 계정에 쌓이지 않습니다. "
            "회원님의 번호가 맞다면 앱에서 번호를 다시 인증해 주세요."
        ),
        created_at=now,
    )
