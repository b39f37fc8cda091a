"""The citizen's inbox (DESIGN §4c): what each cause tells the citizen, in Korean, under an
id derived from the cause alone, and the shape of a phone's push token.

A cause is something the streams already carry (a ledger entry, a payout item settled, a
payout skip, a challenge finished). Its notification id is the cause's time in
milliseconds, the kind and a digest of the cause's own key: the same cause always gives the
same id (a replay writes nothing new), and ids sort by the cause's time (newest first is a
descending Query).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

from chalicelib.domain.clock import SEOUL
from chalicelib.domain.phone_proofs import NUMBER_MOVED, Notice

Kind = Literal[
    "challenge_finished",
    "prize_awarded",
    "payout_paid",
    "payout_failed",
    "payout_skipped",
    "correction_posted",
]
KINDS: tuple[str, ...] = (*get_args(Kind), NUMBER_MOVED)
"""Every kind an inbox holds (the phone proof's `number_moved` too)."""

ID_SHAPE = re.compile(r"[0-9]{13}-[a-z_]{1,32}-[A-Za-z0-9_-]{1,64}")
"""What a notification id looks like (the phone proof's ids fit it too)."""
COUNTER_KEY = "~inbox"
"""The sort key of a citizen's unread counter, in the inbox's own partition: `~` sorts
after every notification id, so a Query below it reads notifications only."""

_TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "notifications_ko.json"


@cache
def templates() -> dict[str, Any]:
    return dict(json.loads(_TEMPLATES.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Cause:
    """Something that happened to a citizen, as one of the streams carries it."""

    citizen_id: str
    kind: Kind
    key: str
    """The cause's own identity (a ledger entry's id, a run's id, a challenge's id): with
    the kind, it names the cause; the notification id is derived from it."""
    at: datetime
    values: dict[str, Any] = field(default_factory=dict)
    """What the templates fill in: amounts as integers, times as datetimes, text as text."""


def notification_id(cause: Cause) -> str:
    millis = int(cause.at.timestamp() * 1000)
    # the citizen too: two citizens paid by one run get different ids, so an id of
    # another's inbox never names a notification of mine
    named = f"{cause.citizen_id}\n{cause.kind}\n{cause.key}"
    digest = hashlib.sha256(named.encode()).hexdigest()[:24]
    return f"{millis:013d}-{cause.kind}-{digest}"


def amount(points: int) -> str:
    """`12,345`: thousands separated as Korean apps write them."""
    return f"{points:,}"


def signed(points: int) -> str:
    return f"+{points:,}" if points > 0 else f"{points:,}"


def seoul_date(moment: datetime) -> str:
    day = moment.astimezone(SEOUL)
    return f"{day.year}년 {day.month}월 {day.day}일"


def period_name(period: str) -> str:
    """`2026-11` -> `2026년 11월`; anything else as it is."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", period)
    return f"{match.group(1)}년 {int(match.group(2))}월" if match else period


def _fill(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` places with text as it is: a name a citizen or staff wrote may hold
    braces, and is never read as a template."""
    return re.sub(r"\{([a-z0-9_]+)\}", lambda m: values[m.group(1)], template)


def _texts(cause: Cause) -> dict[str, str]:
    v = cause.values
    texts: dict[str, str] = {"date": seoul_date(cause.at)}
    for name in ("points", "balance", "amount"):
        if name in v:
            texts[name] = amount(int(v[name]))
    if "points" in v:
        texts["signed_points"] = signed(int(v["points"]))
    if "period" in v:
        texts["period"] = period_name(str(v["period"]))
    if "challenge" in v:
        texts["challenge"] = str(v["challenge"])
    if "last4" in v:
        texts["last4"] = str(v["last4"])
    if "reason" in v:
        reasons = templates()["reasons"]
        texts["reason"] = reasons.get(str(v["reason"]), reasons["other"])
    return texts


def render(cause: Cause) -> Notice:
    """The notification a cause gives: the same cause, the same notice (id and words)."""
    template = templates()[cause.kind]
    texts = _texts(cause)
    return Notice(
        notification_id=notification_id(cause),
        kind=cause.kind,
        title=_fill(template["title"], texts),
        body=_fill(template["body"], texts),
        created_at=cause.at,
    )


# -- Causes, from the values the streams carry --------------------------------------------


def ledger_cause(
    citizen_id: str,
    entry_id: str,
    kind: str,
    points: int,
    balance_after: int,
    at: datetime,
    detail: dict[str, Any],
) -> Cause | None:
    """A prize or a correction posted tells the citizen; other entries tell nothing here
    (a payout's debit is told when it is paid or fails, from its item)."""
    if kind == "challenge_prize":
        values = {
            "points": points,
            "balance": balance_after,
            "challenge": str(detail.get("title") or detail.get("challenge_id") or ""),
        }
        return Cause(citizen_id, "prize_awarded", entry_id, at, values)
    if kind == "correction":
        return Cause(
            citizen_id,
            "correction_posted",
            entry_id,
            at,
            {"points": points, "balance": balance_after},
        )
    return None


def payout_cause(
    run_id: str,
    citizen_id: str,
    period: str,
    amount_paid: int,
    last4: str,
    old_status: str | None,
    new_status: str,
    settled_at: datetime | None,
) -> Cause | None:
    """An item that moved from pending to paid or failed (a failed one was credited back in
    the same transaction that marked it)."""
    if old_status == new_status or new_status not in ("paid", "failed") or settled_at is None:
        return None
    kind: Kind = "payout_paid" if new_status == "paid" else "payout_failed"
    values = {"period": period, "amount": amount_paid, "last4": last4}
    return Cause(citizen_id, kind, run_id, settled_at, values)


def skip_cause(run_id: str, citizen_id: str, reason: str, at: datetime) -> Cause:
    period = run_id.removeprefix("payout-")
    return Cause(
        citizen_id, "payout_skipped", f"{run_id}#{reason}", at, {"period": period, "reason": reason}
    )


def finish_cause(citizen_id: str, challenge_id: str, title: str, finished_at: datetime) -> Cause:
    return Cause(citizen_id, "challenge_finished", challenge_id, finished_at, {"challenge": title})


# -- Push tokens ----------------------------------------------------------------------------

Platform = Literal["fcm", "apns"]
PLATFORMS: tuple[str, ...] = ("fcm", "apns")
APNS_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2}){32,100}")
"""APNs device tokens: hex, 32 bytes today (64 digits); Apple says not to fix the length,
so up to 100 bytes are taken."""
FCM_TOKEN = re.compile(r"[A-Za-z0-9_:-]{32,4096}")
"""FCM registration tokens: base64url letters and `:` (about 160 seen; up to 4 KB taken)."""


def token_problem(platform: str, token: str) -> str | None:
    """Why a token cannot be the platform's, or None."""
    pattern = APNS_TOKEN if platform == "apns" else FCM_TOKEN
    if not pattern.fullmatch(token):
        if platform == "apns":
            return "an APNs token is 64 to 200 hexadecimal digits"
        return "an FCM token is 32 to 4096 characters of A-Z a-z 0-9 _ : -"
    return None


def normal_token(platform: str, token: str) -> str:
    """APNs tokens in lower case (the same device either way); FCM tokens as they are."""
    return token.lower() if platform == "apns" else token


def token_key(token: str) -> str:
    """The table's key for a token: its digest (a 4 KB token is no DynamoDB key, and the
    digest says nothing of the token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def push_message(notice: Notice) -> str:
    """What SNS sends to a platform endpoint (MessageStructure=json): a title and body the
    phone shows, and the notification's id and kind for the app to open it."""
    data = {"notification_id": notice.notification_id, "kind": notice.kind}
    fcm = {"notification": {"title": notice.title, "body": notice.body}, "data": data}
    apns = {"aps": {"alert": {"title": notice.title, "body": notice.body}}, **data}
    return json.dumps(
        {
            "default": notice.body,
            "GCM": json.dumps(fcm, ensure_ascii=False),
            "APNS": json.dumps(apns, ensure_ascii=False),
            "APNS_SANDBOX": json.dumps(apns, ensure_ascii=False),
        },
        ensure_ascii=False,
    )
