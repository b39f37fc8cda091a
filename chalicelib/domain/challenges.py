"""Walking and recycling challenges in the city's terms (DESIGN §4 "Challenges", §5).

Pure rules: what a valid challenge is, how a citizen's progress is counted, when it is
finished, the order finishers are ranked in, and who has a prize due. The stores and the
streams that feed progress live in chalicelib.services.challenges and its adapter.

Progress is kept so that replays are harmless: step days are merged as a per-day MAXIMUM
(a day's stored count only goes up, invariant 4), so any replay or reordering of step
records gives the same days; recycled items are additive and each ledger entry is counted
under its own guard.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from chalicelib.domain import names
from chalicelib.errors import Unprocessable

Kind = Literal["total_steps", "daily_goal", "recycle_items"]
PrizeType = Literal["all_finishers", "first_n", "lottery"]
Status = Literal["upcoming", "open", "ended"]
STATUSES: tuple[Status, ...] = ("upcoming", "open", "ended")
KINDS: tuple[str, ...] = ("total_steps", "daily_goal", "recycle_items")
STEP_KINDS = frozenset({"total_steps", "daily_goal"})

TITLE_MAX = 80
DRAW_PSEUDONYMS = "pseudonyms-v1"
DRAW_CITIZEN_IDS = "citizen-ids"
"""Draws recorded before pseudonyms: their lists hold citizen ids and stay unpublished."""
MAX_WINDOW_DAYS = 366
"""A challenge runs at most a year (its entries keep one count per day of the window)."""
MAX_LEAD_DAYS = 366
"""A challenge starts at most a year ahead."""
MAX_TARGET = 100_000_000
MAX_PRIZE_POINTS = 1_000_000
MAX_WINNERS = 10_000
MAX_DAY_STEPS = 100_000
"""The most steps a day may hold (DESIGN §5)."""
RECENT_DAYS = 30
"""How long after its end a challenge is still listed."""
STREAM_LAG_DAYS = 1
"""A margin for a record synced just before midnight to reach the challenge's stream."""


@dataclass(frozen=True)
class Prize:
    type: PrizeType
    points: int
    winners: int | None = None


@dataclass(frozen=True)
class NewChallenge:
    """What an admin asks for, parsed but not yet checked against the rules."""

    title: str
    kind: Kind
    starts_on: date
    ends_on: date
    target: int
    prize: Prize
    daily_cap: int | None = None
    daily_goal: int | None = None
    district: str | None = None


@dataclass(frozen=True)
class Draw:
    """A lottery's published result: the revealed seed, the sorted finishers, the winners."""

    seed: str
    finishers: tuple[str, ...]
    """The sorted finishers' per-challenge pseudonyms (DRAW_PSEUDONYMS), or on a draw made
    before them (DRAW_CITIZEN_IDS) their citizen ids, which are never published."""
    finisher_digest: str
    winners: tuple[str, ...]
    """Pseudonyms, like the finishers: what is published."""
    drawn_at: datetime
    complete: bool = True
    """False when read without its lists (a challenge as listed or as the streams see it):
    a city-wide draw's lists are far larger than one DynamoDB item, so they are stored
    apart and read only for the published draw and by the draw, which pays the winners."""
    winner_ids: tuple[str, ...] = ()
    """The winners' citizen ids, in the winners' order: kept to pay them, never published."""
    scheme: str = "pseudonyms-v1"

    @property
    def payees(self) -> tuple[str, ...]:
        """The citizen ids the prize is paid to."""
        return self.winners if self.scheme == DRAW_CITIZEN_IDS else self.winner_ids

    @property
    def published(self) -> bool:
        """Whether its lists may be shown: never a list of citizen ids."""
        return self.scheme == DRAW_PSEUDONYMS


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    title: str
    kind: Kind
    starts_on: date
    ends_on: date
    target: int
    prize: Prize
    created_at: datetime
    daily_cap: int | None = None
    daily_goal: int | None = None
    district: str | None = None
    commitment: str | None = None
    """Lotteries: SHA-256 of the secret seed, published at creation."""
    finishers: int = 0
    """How many have finished so far; the next finisher's rank is this plus one."""
    last_finish_key: str | None = None
    """The greatest finish key so far: a finisher must sort after it (see finish_key)."""
    draw: Draw | None = None

    def contains(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on

    def is_closed(self, today: date) -> bool:
        return today > self.ends_on

    def draw_opens_on(self, late_sync_days: int) -> date:
        """The first day a lottery may be drawn: once no finish can still arrive. A step day
        of the window may be synced `late_sync_days` after it (DESIGN §5) and its stream
        record follows; drawing earlier would leave out finishers by when their phone
        synced, and would let whoever picks the moment pick the finisher list."""
        late = late_sync_days if self.kind in STEP_KINDS else 0
        return self.ends_on + timedelta(days=late + STREAM_LAG_DAYS + 1)

    def status(self, today: date) -> Status:
        if today < self.starts_on:
            return "upcoming"
        return "ended" if self.is_closed(today) else "open"


@dataclass(frozen=True)
class Entry:
    """A citizen's part in one challenge."""

    citizen_id: str
    challenge_id: str
    joined_at: datetime
    district: str
    days: Mapping[str, int] = field(default_factory=dict)
    """Steps per Seoul day (ISO date) inside the window: the maximum seen for each."""
    items: int = 0
    """Items credited inside the window since joining (recycle_items)."""
    finished_at: datetime | None = None
    finish_rank: int | None = None
    prize_awarded: bool = False
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True)
class Finish:
    """The finish being recorded: the entry's time and rank, and the challenge's counter and
    last key it is conditioned on (so ranks follow finish-key order under concurrency)."""

    at: datetime
    rank: int
    key: str
    previous_count: int
    previous_key: str | None


# Validation ---------------------------------------------------------------------------


def validate(new: NewChallenge, today: date, known_districts: set[str]) -> NewChallenge:
    """The challenge as it will be stored (title trimmed), or Unprocessable naming every
    field that breaks a rule."""
    problems: list[dict[str, str]] = []

    def bad(name: str, problem: str) -> None:
        problems.append({"field": name, "problem": problem})

    title = new.title
    try:
        # The city's one rule for names shown to everyone (chalicelib.domain.names).
        title = names.judge(new.title, names.TITLE)
    except names.NameRefused as e:
        problems.append(e.detail("title"))
    if new.kind not in KINDS:
        bad("kind", f"must be one of {', '.join(KINDS)}")
    window = (new.ends_on - new.starts_on).days + 1
    if new.ends_on < new.starts_on:
        bad("ends_on", "must not be before starts_on")
    elif window > MAX_WINDOW_DAYS:
        bad("ends_on", f"a challenge runs at most {MAX_WINDOW_DAYS} days")
    if new.ends_on < today:
        bad("ends_on", "must not be in the past")
    if new.starts_on > today + timedelta(days=MAX_LEAD_DAYS):
        bad("starts_on", f"must be at most {MAX_LEAD_DAYS} days ahead")
    if not 1 <= new.target <= MAX_TARGET:
        bad("target", f"must be between 1 and {MAX_TARGET}")
    if new.kind == "daily_goal":
        if new.daily_goal is None:
            bad("daily_goal", "is required for a daily_goal challenge")
        elif not 1 <= new.daily_goal <= MAX_DAY_STEPS:
            bad("daily_goal", "must be between 1 and 100000 steps")
        if window >= 1 and new.target > window:
            bad("target", f"a daily_goal target is a number of days (at most {window})")
    elif new.daily_goal is not None:
        bad("daily_goal", "applies only to daily_goal challenges")
    if new.kind == "total_steps" and window >= 1:
        most = window * (new.daily_cap if new.daily_cap and new.daily_cap > 0 else MAX_DAY_STEPS)
        if new.target > most:
            bad("target", f"cannot be reached: at most {most} steps count in this window")
    if new.daily_cap is not None:
        if new.kind != "total_steps":
            bad("daily_cap", "applies only to total_steps challenges")
        elif not 1 <= new.daily_cap <= MAX_DAY_STEPS:
            bad("daily_cap", "must be between 1 and 100000 steps")
    if new.district is not None and new.district not in known_districts:
        bad("district", "unknown district")
    prize = new.prize
    if not 1 <= prize.points <= MAX_PRIZE_POINTS:
        bad("prize.points", f"must be between 1 and {MAX_PRIZE_POINTS}")
    if prize.type in ("first_n", "lottery"):
        if prize.winners is None:
            bad("prize.winners", f"is required for a {prize.type} prize")
        elif not 1 <= prize.winners <= MAX_WINNERS:
            bad("prize.winners", f"must be between 1 and {MAX_WINNERS}")
    elif prize.winners is not None:
        bad("prize.winners", "applies only to first_n and lottery prizes")
    if problems:
        raise Unprocessable(
            "the challenge is not acceptable", code="invalid_challenge", details=problems
        )
    return dataclasses.replace(new, title=title)


# Progress -----------------------------------------------------------------------------


def merged_days(days: Mapping[str, int], more: Mapping[str, int]) -> dict[str, int]:
    """Per-day maximum: idempotent, commutative, associative (replays change nothing)."""
    out = dict(days)
    for day, steps in more.items():
        if steps > out.get(day, -1):
            out[day] = steps
    return out


def window_days(challenge: Challenge, days: Mapping[str, int]) -> dict[str, int]:
    """Only the days inside the challenge's window."""
    return {d: s for d, s in days.items() if challenge.contains(date.fromisoformat(d))}


def progress(challenge: Challenge, entry: Entry) -> int:
    if challenge.kind == "recycle_items":
        return entry.items
    days = window_days(challenge, entry.days)
    if challenge.kind == "daily_goal":
        goal = challenge.daily_goal or 0
        return sum(1 for steps in days.values() if steps >= goal)
    cap = challenge.daily_cap
    return sum(steps if cap is None else min(steps, cap) for steps in days.values())


def reached(challenge: Challenge, entry: Entry) -> bool:
    return progress(challenge, entry) >= challenge.target


def with_steps(challenge: Challenge, entry: Entry, days: Mapping[str, int]) -> Entry:
    merged = merged_days(entry.days, window_days(challenge, days))
    return entry if merged == dict(entry.days) else dataclasses.replace(entry, days=merged)


def counts_items(challenge: Challenge, entry: Entry, created_at: datetime, seoul: date) -> bool:
    """A ledger entry's items count in a recycle challenge when credited on a Seoul day of
    the window, at or after joining (so the count does not depend on how far the ledger's
    stream lagged behind the join)."""
    return (
        challenge.kind == "recycle_items"
        and challenge.contains(seoul)
        and created_at >= entry.joined_at
    )


# Finishing and prizes -----------------------------------------------------------------


def key_time(at: datetime) -> str:
    """UTC to the microsecond, fixed width: sorts as the times do."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def finish_key(at: datetime, citizen_id: str) -> str:
    """`<finished_at>#<citizen_id>`: finishers ranked by time, ties by citizen id."""
    return f"{key_time(at)}#{citizen_id}"


def time_of_key(key: str) -> datetime:
    return datetime.strptime(key.split("#", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def next_finish(challenge: Challenge, citizen_id: str, now: datetime) -> Finish:
    """The finish a citizen records now: rank after every finisher so far, at a time no
    earlier than the last finish (a clock behind another Lambda's moves up to it), so rank
    order is always (time, citizen id) order."""
    at = now
    last = challenge.last_finish_key
    if last is not None:
        last_at = time_of_key(last)
        if at < last_at or (at == last_at and finish_key(at, citizen_id) <= last):
            at = last_at + timedelta(microseconds=1)
    return Finish(
        at=at,
        rank=challenge.finishers + 1,
        key=finish_key(at, citizen_id),
        previous_count=challenge.finishers,
        previous_key=last,
    )


def finished(entry: Entry, finish: Finish) -> Entry:
    return dataclasses.replace(entry, finished_at=finish.at, finish_rank=finish.rank)


def prize_due(challenge: Challenge, entry: Entry) -> bool:
    """Whether the entry has earned its prize (paid or not yet)."""
    if not entry.finished:
        return False
    prize = challenge.prize
    if prize.type == "all_finishers":
        return True
    if prize.type == "first_n":
        return entry.finish_rank is not None and entry.finish_rank <= (prize.winners or 0)
    drawn = challenge.draw
    return drawn is not None and drawn.complete and entry.citizen_id in drawn.payees


def prize_guard(challenge_id: str, citizen_id: str) -> str:
    return f"prize#{challenge_id}#{citizen_id}"


def prize_detail(challenge: Challenge) -> dict[str, Any]:
    return {
        "challenge_id": challenge.challenge_id,
        "title": challenge.title,
        "prize": challenge.prize.type,
    }


def items_guard(challenge_id: str, citizen_id: str, ledger_entry_id: str) -> str:
    """One guard per ledger entry counted in one challenge."""
    return f"challenge-items#{challenge_id}#{citizen_id}#{ledger_entry_id}"


# Errors the store raises (plain values; the service decides what to do) ----------------


class EntryMoved(Exception):
    """The entry changed since it was read (its version): read it again."""


class FinishOutOfOrder(Exception):
    """Another finish was recorded since the challenge was read: read it and retry."""


class GuardsSeen(Exception):
    """Some ledger entries were counted already; nothing was written."""

    def __init__(self, keys: set[str]) -> None:
        super().__init__(f"already counted: {sorted(keys)}")
        self.keys = keys


class AlreadyJoined(Exception):
    def __init__(self, entry: Entry) -> None:
        super().__init__(entry.challenge_id)
        self.entry = entry


class AlreadyDrawn(Exception):
    def __init__(self, challenge: Challenge) -> None:
        super().__init__(challenge.challenge_id)
        self.challenge = challenge


# The draw's pseudonyms -------------------------------------------------------------------


def draw_pseudonym(key: bytes, challenge_id: str, citizen_id: str) -> str:
    """A finisher as the public draw names them: `p` and 32 hex digits of
    HMAC-SHA256(key, len(challenge id):challenge id + citizen id) under a server-side key.
    Stable for one challenge, unlinkable across challenges, and irreversible without the
    key (a citizen id is a guessable format, so a plain hash would not do)."""
    message = f"{len(challenge_id)}:{challenge_id}{citizen_id}".encode()
    return "p" + hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
