"""DynamoDB adapter for challenges: the challenges, citizens' entries, finishing in rank
order, and the lottery draw recorded once.

Requests: the listing is one Query of the `by-end` index; a citizen's entries one Query;
an entry's progress one conditional write (a TransactWriteItems when it carries ledger
guards or finishes the entry, which also moves the challenge's finisher counter).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb_models import (
    Challenge,
    ChallengeEntry,
    DrawPage,
    ProcessedEvent,
)
from chalicelib.adapters.dynamodb_models import StepDay as StepDayItem
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain import challenges as c
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.errors import RetryableConflict

# Kept a year past the end: the draw stays checkable, the entries show what was won.
RETENTION_AFTER_END = timedelta(days=400)
GUARD_RETENTION = timedelta(days=7)
LISTING = "all"


class DynamoDbChallenges:
    # Challenges --------------------------------------------------------------------------

    def create(
        self, challenge: c.Challenge, seed: str | None, action: StaffAction | None = None
    ) -> None:
        """Once (a repeat of the id is refused); with the staff action in the same write."""
        item = Challenge(
            challenge.challenge_id,
            listing=LISTING,
            title=challenge.title,
            kind=challenge.kind,
            starts_on=challenge.starts_on.isoformat(),
            ends_on=challenge.ends_on.isoformat(),
            target=challenge.target,
            daily_cap=challenge.daily_cap,
            daily_goal=challenge.daily_goal,
            district=challenge.district,
            prize_type=challenge.prize.type,
            prize_points=challenge.prize.points,
            prize_winners=challenge.prize.winners,
            created_at=challenge.created_at,
            seed=seed,
            commitment=challenge.commitment,
            finishers=0,
            expires=_expiry(challenge.ends_on),
        )
        if action is None:
            item.save(condition=Challenge.challenge_id.does_not_exist())
            return
        transaction = NamedTransaction()
        transaction.put("challenge", item, condition=Challenge.challenge_id.does_not_exist())
        put_in(transaction, action)
        transaction.commit()

    def get(self, challenge_id: str) -> c.Challenge | None:
        try:
            return challenge_of(Challenge.get(challenge_id, consistent_read=True))
        except DoesNotExist:
            return None

    def seed(self, challenge_id: str) -> str | None:
        try:
            return Challenge.get(challenge_id, consistent_read=True).seed
        except DoesNotExist:
            return None

    def get_many(self, challenge_ids: set[str]) -> dict[str, c.Challenge]:
        if not challenge_ids:
            return {}
        return {
            item.challenge_id: challenge_of(item)
            for item in Challenge.batch_get(sorted(challenge_ids), consistent_read=True)
        }

    def ending_since(self, day: date) -> list[c.Challenge]:
        """Challenges ending on `day` or later, soonest end first (one Query)."""
        return [
            challenge_of(item)
            for item in Challenge.by_end.query(LISTING, Challenge.ends_on >= day.isoformat())
        ]

    def record_draw(
        self, challenge_id: str, draw: c.Draw, action: StaffAction | None = None
    ) -> None:
        """Once: raises AlreadyDrawn with the challenge as drawn first.

        The lists go first, in pages of the entries table under `draw#<challenge>#<digest>`
        (a city-wide lottery's finishers and winners are far beyond the 400 KB of one
        item); then the challenge row records the draw on condition, so a recorded draw
        always has its pages. A concurrent draw of another finisher list writes other
        pages, which nothing reads (they expire)."""
        pages_key = _draw_pages_key(challenge_id, draw.finisher_digest)
        expires = draw.drawn_at + RETENTION_AFTER_END
        # f: finishers, w: winners (both pseudonyms, published); i: the winners' citizen ids
        # (to pay them; never published).
        for part, ids in [("f", draw.finishers), ("w", draw.winners), ("i", draw.winner_ids)]:
            for number, page in enumerate(_pages(ids)):
                # The winners are a function of the seed and the finishers: a page already
                # there (a retried or concurrent draw of the same finishers) is this page.
                item = DrawPage(pages_key, f"{part}{number:05d}", ids=page, expires=expires)
                try:
                    item.save(condition=DrawPage.pages_key.does_not_exist())
                except PutError as e:
                    if not condition_failed(e):
                        raise
        recorded: list[Action] = [
            Challenge.drawn_at.set(draw.drawn_at),
            Challenge.finisher_digest.set(draw.finisher_digest),
            Challenge.draw_scheme.set(draw.scheme),
        ]
        once = Challenge.challenge_id.exists() & Challenge.drawn_at.does_not_exist()
        try:
            if action is None:
                Challenge(challenge_id).update(actions=recorded, condition=once)
            else:
                transaction = NamedTransaction()
                transaction.update(
                    "challenge", Challenge(challenge_id), recorded, once, versioned=False
                )
                put_in(transaction, action)
                transaction.commit()
        except (UpdateError, ConditionsFailed) as e:
            if isinstance(e, UpdateError) and not condition_failed(e):
                raise
            if isinstance(e, ConditionsFailed) and "challenge" not in e.names:
                raise
            drawn = self.get(challenge_id)
            if drawn is None or drawn.draw is None:
                raise
            raise c.AlreadyDrawn(drawn) from e

    def draw_lists(
        self, challenge_id: str, finisher_digest: str
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The recorded draw's finishers, winners and winners' ids, from its pages (one
        paginated Query)."""
        found: dict[str, list[str]] = {"f": [], "w": [], "i": []}
        pages = DrawPage.query(_draw_pages_key(challenge_id, finisher_digest), consistent_read=True)
        for page in pages:
            found[page.page[:1]].extend(page.ids)
        return tuple(found["f"]), tuple(found["w"]), tuple(found["i"])

    def finisher_ids(self, challenge_id: str) -> list[str]:
        """Every finisher, from the sparse index (paginated by PynamoDB)."""
        return [e.citizen_id for e in ChallengeEntry.finishers.query(challenge_id)]

    # Entries -----------------------------------------------------------------------------

    def entry(self, citizen_id: str, challenge_id: str) -> c.Entry | None:
        try:
            return entry_of(ChallengeEntry.get(citizen_id, challenge_id, consistent_read=True))
        except DoesNotExist:
            return None

    def entries_of(self, citizen_id: str) -> list[c.Entry]:
        return [entry_of(e) for e in ChallengeEntry.query(citizen_id, consistent_read=True)]

    def entries_in(self, challenge_id: str, citizen_ids: list[str]) -> dict[str, c.Entry]:
        """BatchGetItem (strongly consistent: a prize just marked is seen as marked)."""
        keys = [(citizen_id, challenge_id) for citizen_id in dict.fromkeys(citizen_ids)]
        return {
            item.citizen_id: entry_of(item)
            for item in ChallengeEntry.batch_get(keys, consistent_read=True)
        }

    def join(self, entry: c.Entry, ends_on: date) -> None:
        """Raises AlreadyJoined with the entry already there."""
        item = ChallengeEntry(
            entry.citizen_id,
            entry.challenge_id,
            joined_at=entry.joined_at,
            district=entry.district,
            days=json.dumps(dict(entry.days), sort_keys=True),
            items=0,
            prize_awarded=False,
            version=0,
            expires=_expiry(ends_on),
        )
        try:
            item.save(condition=ChallengeEntry.challenge_id.does_not_exist())
        except PutError as e:
            if not condition_failed(e):
                raise
            existing = self.entry(entry.citizen_id, entry.challenge_id)
            if existing is None:
                raise
            raise c.AlreadyJoined(existing) from e

    def save_progress(
        self,
        before: c.Entry,
        after: c.Entry,
        guards: set[str],
        finish: c.Finish | None,
        now: datetime,
    ) -> None:
        """The entry's new days/items (and finish), under the version read, with the ledger
        guards and the challenge's finisher counter in the same transaction.

        Raises EntryMoved, FinishOutOfOrder, GuardsSeen, or RetryableConflict."""
        tx = NamedTransaction()
        for key in sorted(guards):
            tx.put(
                key,
                ProcessedEvent(
                    key, status="counted", processed_at=now, expires=now + GUARD_RETENTION
                ),
                ProcessedEvent.event_key.does_not_exist(),
            )
        actions: list[Action] = [
            ChallengeEntry.days.set(json.dumps(dict(after.days), sort_keys=True)),
            ChallengeEntry.items.set(after.items),
            ChallengeEntry.version.set(before.version + 1),
        ]
        entry_condition: Condition = ChallengeEntry.version == before.version
        if finish is not None:
            actions += [
                ChallengeEntry.finished_at.set(finish.at),
                ChallengeEntry.finish_rank.set(finish.rank),
                ChallengeEntry.finish_key.set(finish.key),
            ]
            entry_condition &= ChallengeEntry.finished_at.does_not_exist()
            # The counter as read, and the last key as read and below mine: a finish
            # recorded meanwhile fails this, and the service takes a fresh rank and time.
            order: Condition = Challenge.last_finish_key.does_not_exist()
            if finish.previous_key is not None:
                order = (Challenge.last_finish_key == finish.previous_key) & (
                    Challenge.last_finish_key < finish.key
                )
            tx.update(
                "challenge",
                Challenge(after.challenge_id),
                [Challenge.finishers.add(1), Challenge.last_finish_key.set(finish.key)],
                (Challenge.finishers == finish.previous_count) & order,
                versioned=False,
            )
        tx.update(
            "entry",
            ChallengeEntry(after.citizen_id, after.challenge_id),
            actions,
            entry_condition,
            versioned=False,
        )
        try:
            tx.commit()
        except ConditionsFailed as e:
            seen = {name for name in e.names if name in guards}
            if seen:
                raise c.GuardsSeen(seen) from e
            if "entry" in e.names:
                raise c.EntryMoved(after.challenge_id) from e
            if "challenge" in e.names:
                raise c.FinishOutOfOrder(after.challenge_id) from e
            raise RetryableConflict(f"challenge progress: {sorted(e.names)}") from e

    def mark_awarded(self, citizen_id: str, challenge_id: str) -> None:
        """Idempotent; leaves the version alone (progress writes never touch this flag)."""
        ChallengeEntry(citizen_id, challenge_id).update(
            actions=[ChallengeEntry.prize_awarded.set(True)],
            condition=ChallengeEntry.challenge_id.exists(),
        )

    # Steps -------------------------------------------------------------------------------

    def step_days(self, citizen_id: str, first: date, last: date) -> dict[str, int]:
        """A citizen's stored step days in [first, last] (one Query)."""
        return {
            item.day: int(item.steps)
            for item in StepDayItem.query(
                citizen_id,
                StepDayItem.day.between(first.isoformat(), last.isoformat()),
                consistent_read=True,
            )
        }


DRAW_PAGE_BYTES = 300_000
"""A draw page's ids stay well under one item's 400 KB."""


def _draw_pages_key(challenge_id: str, finisher_digest: str) -> str:
    """Not a citizen id (those are Cognito subs), so no citizen's entries meet the pages."""
    return f"draw#{challenge_id}#{finisher_digest}"


def _pages(ids: tuple[str, ...]) -> list[list[str]]:
    pages: list[list[str]] = []
    current: list[str] = []
    size = 0
    for citizen_id in ids:
        cost = len(citizen_id.encode("utf-8")) + 4
        if current and size + cost > DRAW_PAGE_BYTES:
            pages.append(current)
            current, size = [], 0
        current.append(citizen_id)
        size += cost
    if current:
        pages.append(current)
    return pages


def _expiry(ends_on: date) -> datetime:
    from chalicelib.domain.clock import SEOUL

    end = datetime(ends_on.year, ends_on.month, ends_on.day, tzinfo=SEOUL)
    return end + RETENTION_AFTER_END


def challenge_of(item: Challenge) -> c.Challenge:
    draw = None
    if item.drawn_at is not None and item.seed is not None:
        # The lists are in the draw's pages (DynamoDbChallenges.draw_lists); a row that
        # holds them itself was drawn before they moved there.
        draw = c.Draw(
            seed=item.seed,
            finishers=tuple(item.draw_finishers or ()),
            finisher_digest=item.finisher_digest or "",
            winners=tuple(item.draw_winners or ()),
            drawn_at=item.drawn_at,
            complete=item.draw_finishers is not None,
            # A draw recorded before pseudonyms has no scheme: its lists are citizen ids.
            scheme=item.draw_scheme or c.DRAW_CITIZEN_IDS,
        )
    return c.Challenge(
        challenge_id=item.challenge_id,
        title=item.title,
        kind=item.kind,  # type: ignore[arg-type]
        starts_on=date.fromisoformat(item.starts_on),
        ends_on=date.fromisoformat(item.ends_on),
        target=int(item.target),
        prize=c.Prize(
            item.prize_type,  # type: ignore[arg-type]
            int(item.prize_points),
            None if item.prize_winners is None else int(item.prize_winners),
        ),
        created_at=item.created_at,
        daily_cap=None if item.daily_cap is None else int(item.daily_cap),
        daily_goal=None if item.daily_goal is None else int(item.daily_goal),
        district=item.district,
        commitment=item.commitment,
        finishers=int(item.finishers or 0),
        last_finish_key=item.last_finish_key,
        draw=draw,
    )


def entry_of(item: ChallengeEntry) -> c.Entry:
    return c.Entry(
        citizen_id=item.citizen_id,
        challenge_id=item.challenge_id,
        joined_at=item.joined_at,
        district=item.district,
        days={str(d): int(s) for d, s in json.loads(item.days or "{}").items()},
        items=int(item.items or 0),
        finished_at=item.finished_at,
        finish_rank=None if item.finish_rank is None else int(item.finish_rank),
        prize_awarded=bool(item.prize_awarded),
        version=int(item.version or 0),
    )
