"""Challenges: create, list, join, progress from the step and ledger streams, prizes, the
lottery draw (DESIGN §4 "Challenges", §6).

Every write here is safe to repeat. Progress is merged under the entry's version (step
days as a per-day maximum, ledger entries each under a guard in the same transaction);
a finish is recorded once, in rank order, by a transaction that also moves the
challenge's finisher counter; a prize is a ledger posting under `prize#<challenge>#<citizen>`,
re-attempted whenever the entry is seen with a prize due and not yet marked awarded, so a
crash between finishing and paying is healed by the retry and a replay never pays twice.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from chalicelib.config import Settings
from chalicelib.domain import challenges as c
from chalicelib.domain import draw as lottery
from chalicelib.domain.citizens import Citizen
from chalicelib.domain.clock import Clock, seoul_day
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.ledger import AlreadyPosted, LedgerEntry, PostedResult, Posting
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.domain.steps import StepDay
from chalicelib.errors import Conflict, Forbidden, NotFound, RetryableConflict

ATTEMPTS = 8
MAX_ID_LENGTH = 64
WINNERS_PER_READ = 100
"""A BatchGetItem's keys."""
GUARDS_PER_WRITE = 90
"""A transaction holds 100 items: the guards, the entry and the challenge row."""


class ChallengeStore(Protocol):
    def create(
        self, challenge: c.Challenge, seed: str | None, action: StaffAction | None = None
    ) -> None: ...
    def get(self, challenge_id: str) -> c.Challenge | None: ...
    def seed(self, challenge_id: str) -> str | None: ...
    def get_many(self, challenge_ids: set[str]) -> dict[str, c.Challenge]: ...
    def ending_since(self, day: date) -> list[c.Challenge]: ...
    def record_draw(
        self, challenge_id: str, draw: c.Draw, action: StaffAction | None = None
    ) -> None: ...
    def draw_lists(
        self, challenge_id: str, finisher_digest: str
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """A recorded draw's finishers, winners and winners' citizen ids (stored apart from
        the challenge)."""
        ...

    def finisher_ids(self, challenge_id: str) -> list[str]: ...
    def entry(self, citizen_id: str, challenge_id: str) -> c.Entry | None: ...
    def entries_of(self, citizen_id: str) -> list[c.Entry]: ...
    def entries_in(self, challenge_id: str, citizen_ids: list[str]) -> dict[str, c.Entry]:
        """These citizens' entries in one challenge, by citizen (batched reads)."""
        ...

    def join(self, entry: c.Entry, ends_on: date) -> None: ...
    def save_progress(
        self,
        before: c.Entry,
        after: c.Entry,
        guards: set[str],
        finish: c.Finish | None,
        now: datetime,
    ) -> None: ...
    def mark_awarded(self, citizen_id: str, challenge_id: str) -> None: ...
    def step_days(self, citizen_id: str, first: date, last: date) -> dict[str, int]: ...


class Citizens(Protocol):
    def get(self, citizen_id: str) -> Citizen | None: ...


class Ledger(Protocol):
    def post(self, posting: Posting) -> PostedResult: ...


@dataclass(frozen=True)
class Standing:
    """A challenge as one citizen sees it."""

    challenge: c.Challenge
    entry: c.Entry | None
    pseudonym: str | None = None
    """Mine in this challenge's lottery draw (shown in the detail only)."""

    @property
    def progress(self) -> int:
        return 0 if self.entry is None else c.progress(self.challenge, self.entry)


@dataclass(frozen=True)
class ItemsCredited:
    """A recycling ledger entry, as challenges count it."""

    citizen_id: str
    entry_id: str
    items: int
    created_at: datetime


def items_credited(entry: LedgerEntry) -> ItemsCredited | None:
    if entry.kind != "recycling":
        return None
    items = int(entry.detail.get("items_credited") or 0)
    if items <= 0:
        return None
    return ItemsCredited(entry.citizen_id, entry.entry_id, items, entry.created_at)


class ChallengeService:
    def __init__(
        self,
        store: ChallengeStore,
        citizens: Citizens,
        ledger: Ledger,
        clock: Clock,
        known_districts: set[str],
        late_sync_days: int = Settings.step_sync_days_back,
        pseudonym_key: Callable[[], bytes] | None = None,
    ) -> None:
        self._pseudonym_key = pseudonym_key
        self._store = store
        self._citizens = citizens
        self._ledger = ledger
        self._clock = clock
        self._districts = known_districts
        self._late_sync_days = late_sync_days

    # Admin -------------------------------------------------------------------------------

    def create(self, new: c.NewChallenge, actor: Actor) -> c.Challenge:
        now = self._clock()
        checked = c.validate(new, seoul_day(now), self._districts)
        seed = secrets.token_bytes(lottery.SEED_BYTES) if checked.prize.type == "lottery" else None
        challenge = c.Challenge(
            challenge_id="chl-" + sortable_id(now).lower(),
            title=checked.title,
            kind=checked.kind,
            starts_on=checked.starts_on,
            ends_on=checked.ends_on,
            target=checked.target,
            prize=checked.prize,
            created_at=now,
            daily_cap=checked.daily_cap,
            daily_goal=checked.daily_goal,
            district=checked.district,
            commitment=None if seed is None else lottery.commitment(seed),
        )
        action = new_action(
            actor,
            "challenge.create",
            f"challenge:{challenge.challenge_id}",
            now,
            {"title": challenge.title, "kind": challenge.kind, "prize": challenge.prize.type},
        )
        self._store.create(challenge, None if seed is None else seed.hex(), action)
        return challenge

    def draw(self, challenge_id: str, actor: Actor) -> tuple[c.Challenge, bool]:
        """The draw, made once: (challenge with its draw, made now?). Winners' prizes are
        (re)credited on every call until marked, so a crash after the draw heals."""
        challenge = self._challenge(challenge_id)
        if challenge.prize.type != "lottery":
            raise Conflict("this challenge's prize is not a lottery", code="not_a_lottery")
        now = self._clock()
        opens = challenge.draw_opens_on(self._late_sync_days)
        if seoul_day(now) < opens:
            raise Conflict(
                "the draw is made once the challenge's days can no longer be synced",
                code="challenge_open",
                details=[{"draw_opens_on": opens.isoformat()}],
            )
        created = False
        if challenge.draw is None:
            seed_hex = self._store.seed(challenge_id) or ""
            ids = set(self._store.finisher_ids(challenge_id))
            if len(ids) != challenge.finishers:
                # The counter moves with each finish; the index follows it eventually. A
                # draw from an index behind would leave a finisher out for good.
                raise RetryableConflict(
                    f"challenge {challenge_id}: {len(ids)} finishers indexed of "
                    f"{challenge.finishers}"
                )
            # The draw runs on the finishers' pseudonyms: what is published is exactly
            # what the winners are computed from, and no citizen id is in it.
            key = self._key()
            by_pseudonym = {c.draw_pseudonym(key, challenge_id, i): i for i in ids}
            if len(by_pseudonym) != len(ids):
                raise RuntimeError(f"challenge {challenge_id}: two finishers share a pseudonym")
            finishers = lottery.sorted_finishers(list(by_pseudonym))
            winners = lottery.winners(
                bytes.fromhex(seed_hex), finishers, challenge.prize.winners or 0
            )
            made = c.Draw(
                seed=seed_hex,
                finishers=tuple(finishers),
                finisher_digest=lottery.finisher_digest(finishers),
                winners=tuple(winners),
                drawn_at=now,
                winner_ids=tuple(by_pseudonym[w] for w in winners),
            )
            try:
                drawn = new_action(
                    actor,
                    "challenge.draw",
                    f"challenge:{challenge_id}",
                    now,
                    {"finishers": len(made.finishers), "winners": len(made.winners)},
                )
                self._store.record_draw(challenge_id, made, drawn)
                challenge = dataclasses.replace(challenge, draw=made)
                created = True
            except c.AlreadyDrawn as e:
                challenge = e.challenge
        challenge = self._with_draw_lists(challenge)
        assert challenge.draw is not None
        # Thousands of winners cannot all be paid within one request: the POST is repeated
        # until done, so those already paid must cost a batched read, not a read each (the
        # paid ones alone would otherwise outgrow the request and the last never be paid).
        winners = list(challenge.draw.payees)
        for start in range(0, len(winners), WINNERS_PER_READ):
            batch = winners[start : start + WINNERS_PER_READ]
            found = self._store.entries_in(challenge_id, batch)
            for citizen_id in batch:
                entry = found.get(citizen_id)
                if entry is not None:
                    self._award_if_due(challenge, entry)
        return challenge, created

    # Citizens ----------------------------------------------------------------------------

    def listing(self, citizen_id: str) -> list[Standing]:
        """Open, upcoming and recently ended challenges with my entry: two Queries."""
        today = seoul_day(self._clock())
        found = self._store.ending_since(today - timedelta(days=c.RECENT_DAYS))
        mine = {e.challenge_id: e for e in self._store.entries_of(citizen_id)}
        return [Standing(ch, mine.get(ch.challenge_id)) for ch in found]

    def standing(self, challenge_id: str, citizen_id: str) -> Standing:
        challenge = self._challenge(challenge_id)
        entry = self._store.entry(citizen_id, challenge_id)
        pseudonym = None
        if challenge.prize.type == "lottery" and entry is not None:
            pseudonym = c.draw_pseudonym(self._key(), challenge_id, citizen_id)
        return Standing(challenge, entry, pseudonym)

    def _key(self) -> bytes:
        if self._pseudonym_key is None:
            raise RuntimeError("no draw pseudonym key was given to the challenge service")
        return self._pseudonym_key()

    def published_draw(self, challenge_id: str) -> c.Challenge:
        challenge = self._challenge(challenge_id)
        if challenge.prize.type != "lottery":
            raise NotFound("this challenge has no draw", code="no_draw")
        return self._with_draw_lists(challenge)

    def _with_draw_lists(self, challenge: c.Challenge) -> c.Challenge:
        drawn = challenge.draw
        if drawn is None or drawn.complete:
            return challenge
        finishers, winners, winner_ids = self._store.draw_lists(
            challenge.challenge_id, drawn.finisher_digest
        )
        complete = dataclasses.replace(
            drawn, finishers=finishers, winners=winners, winner_ids=winner_ids, complete=True
        )
        return dataclasses.replace(challenge, draw=complete)

    def join(self, challenge_id: str, citizen_id: str) -> tuple[Standing, bool]:
        """(standing, joined now?). Step days already stored inside the window count."""
        challenge = self._challenge(challenge_id)
        now = self._clock()
        today = seoul_day(now)
        existing = self._store.entry(citizen_id, challenge_id)
        if existing is not None:
            # Read the stored days again: a join that died before counting them heals here.
            return self._count_stored_days(challenge, existing, today), False
        if challenge.is_closed(today):
            raise Conflict("the challenge has ended", code="challenge_closed")
        citizen = self._citizens.get(citizen_id)
        if citizen is None:
            raise NotFound("register first with PUT /v1/me", code="not_registered")
        if challenge.district is not None and citizen.district != challenge.district:
            raise Forbidden(
                f"this challenge is for {challenge.district} residents", code="wrong_district"
            )
        entry = c.Entry(citizen_id, challenge_id, joined_at=now, district=citizen.district)
        try:
            self._store.join(entry, challenge.ends_on)
        except c.AlreadyJoined as e:
            return Standing(challenge, e.entry), False
        return self._count_stored_days(challenge, entry, today), True

    def _count_stored_days(self, challenge: c.Challenge, entry: c.Entry, today: date) -> Standing:
        """Step days synced inside the window before joining count too (one Query)."""
        if challenge.kind in c.STEP_KINDS and challenge.starts_on <= today:
            stored = self._store.step_days(
                entry.citizen_id, challenge.starts_on, min(challenge.ends_on, today)
            )
            if stored:
                entry, challenge = self._advance(challenge, entry, days=stored)
        return Standing(challenge, entry)

    # Streams -----------------------------------------------------------------------------

    def apply_steps(self, days: Iterable[StepDay]) -> int:
        """Step days from the step stream: merged per (citizen, challenge) for the whole
        batch, then one write per entry that changed. Returns the entries written."""
        by_citizen: dict[str, dict[str, int]] = defaultdict(dict)
        for day in days:
            by_citizen[day.citizen_id] = c.merged_days(
                by_citizen[day.citizen_id], {day.day.isoformat(): day.steps}
            )
        return self._apply(
            {cid: (stepdays, []) for cid, stepdays in by_citizen.items()}, c.STEP_KINDS
        )

    def apply_items(self, credited: Iterable[ItemsCredited]) -> int:
        """Recycling ledger entries: each counted once per challenge (a guard each)."""
        by_citizen: dict[str, list[ItemsCredited]] = defaultdict(list)
        for item in credited:
            by_citizen[item.citizen_id].append(item)
        return self._apply(
            {cid: ({}, items) for cid, items in by_citizen.items()}, {"recycle_items"}
        )

    def _apply(
        self,
        changes: Mapping[str, tuple[dict[str, int], list[ItemsCredited]]],
        kinds: Iterable[str],
    ) -> int:
        kinds = set(kinds)
        touched = {
            cid: {date.fromisoformat(d) for d in days} | {seoul_day(i.created_at) for i in items}
            for cid, (days, items) in changes.items()
        }
        relevant = self._running(kinds, touched)
        entries = {cid: self._store.entries_of(cid) for cid in relevant}
        wanted = {e.challenge_id for found in entries.values() for e in found}
        challenges = self._store.get_many(wanted)
        written = 0
        for citizen_id, found in entries.items():
            days, credited = changes[citizen_id]
            for entry in found:
                challenge = challenges.get(entry.challenge_id)
                if challenge is None or challenge.kind not in kinds:
                    continue
                items = {
                    c.items_guard(challenge.challenge_id, citizen_id, i.entry_id): i.items
                    for i in credited
                    if c.counts_items(challenge, entry, i.created_at, seoul_day(i.created_at))
                }
                chunks = _chunks(items) or [{}]
                for chunk in chunks:
                    after, challenge = self._advance(challenge, entry, days=days, items=chunk)
                    # The next finisher of this batch ranks after this one without a
                    # failed write and a re-read.
                    challenges[challenge.challenge_id] = challenge
                    written += after.version != entry.version
                    entry = after
        return written

    def _running(self, kinds: set[str], touched: Mapping[str, set[date]]) -> list[str]:
        """The citizens with a day inside a challenge of these kinds: one Query of the
        listing per batch spares a Query per citizen when no challenge covers their days
        (most batches, most of the year). The listing is an index (eventually consistent),
        but a challenge is created long before anyone can join, sync and be missed."""
        all_days = {d for days in touched.values() for d in days}
        if not all_days:
            return []
        running = [ch for ch in self._store.ending_since(min(all_days)) if ch.kind in kinds]
        return [
            cid
            for cid, days in touched.items()
            if any(ch.contains(d) for ch in running for d in days)
        ]

    # The one path that moves progress ----------------------------------------------------

    def _advance(
        self,
        challenge: c.Challenge,
        entry: c.Entry,
        *,
        days: Mapping[str, int] | None = None,
        items: Mapping[str, int] | None = None,
    ) -> tuple[c.Entry, c.Challenge]:
        """Merge, write under the entry's version, finish in rank order when the target
        is reached, then pay the prize if due. Returns the entry as stored and the
        challenge as this finish (if any) left it."""
        pending = dict(items or {})
        for attempt in range(ATTEMPTS):
            after = c.with_steps(challenge, entry, days or {})
            if pending:
                after = dataclasses.replace(after, items=after.items + sum(pending.values()))
            finish = None
            if not entry.finished and c.reached(challenge, after):
                finish = c.next_finish(challenge, entry.citizen_id, self._clock())
                after = c.finished(after, finish)
            if after == entry and not pending:
                break
            after = dataclasses.replace(after, version=entry.version + 1)
            try:
                self._store.save_progress(entry, after, set(pending), finish, self._clock())
                entry = after
                if finish is not None:
                    challenge = dataclasses.replace(
                        challenge, finishers=finish.rank, last_finish_key=finish.key
                    )
                break
            except c.GuardsSeen as e:
                pending = {k: v for k, v in pending.items() if k not in e.keys}
            except c.EntryMoved:
                fresh = self._store.entry(entry.citizen_id, entry.challenge_id)
                if fresh is None:
                    return entry, challenge
                entry = fresh
            except c.FinishOutOfOrder:
                fresh_challenge = self._store.get(challenge.challenge_id)
                if fresh_challenge is None:
                    return entry, challenge
                challenge = fresh_challenge
            except RetryableConflict:
                time.sleep(0.01 * 2**attempt)
        else:
            raise RetryableConflict(f"challenge {challenge.challenge_id}: too many conflicts")
        return self._award_if_due(challenge, entry), challenge

    def _award_if_due(self, challenge: c.Challenge, entry: c.Entry) -> c.Entry:
        """Post the prize if due and not yet marked (AlreadyPosted: it was), then mark it.
        Returns the entry as marked."""
        if entry.prize_awarded or not c.prize_due(challenge, entry):
            return entry
        for attempt in range(ATTEMPTS):
            citizen = self._citizens.get(entry.citizen_id)
            if citizen is None or citizen.closed:
                return entry  # gone, or closed (docs/account-closing.md): no prize to post
            posting = Posting(
                guard_key=c.prize_guard(challenge.challenge_id, entry.citizen_id),
                account=citizen.account,
                points=challenge.prize.points,
                kind="challenge_prize",
                detail=c.prize_detail(challenge),
                at=self._clock(),
            )
            try:
                self._ledger.post(posting)
                break
            except AlreadyPosted:
                break
            except RetryableConflict:
                time.sleep(0.01 * 2**attempt)
        else:
            raise RetryableConflict(f"prize {challenge.challenge_id}: account keeps moving")
        self._store.mark_awarded(entry.citizen_id, entry.challenge_id)
        return dataclasses.replace(entry, prize_awarded=True)

    def _challenge(self, challenge_id: str) -> c.Challenge:
        found = None
        if 0 < len(challenge_id) <= MAX_ID_LENGTH:
            found = self._store.get(challenge_id)
        if found is None:
            raise NotFound("no such challenge", code="challenge_not_found")
        return found


def _chunks(items: Mapping[str, int]) -> list[dict[str, int]]:
    keys = sorted(items)
    return [
        {k: items[k] for k in keys[i : i + GUARDS_PER_WRITE]}
        for i in range(0, len(keys), GUARDS_PER_WRITE)
    ]
