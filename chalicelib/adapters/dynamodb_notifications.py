"""The inbox and the push tokens on DynamoDB.

Inbox: `notifications` (pk citizen_id, sk notification_id) holds each notification and,
under `~inbox`, the citizen's unread counter. A notification is added by one
TransactWriteItems: its Put on condition that the id is new, and the counter's ADD 1; a
replayed cause fails the condition and writes nothing, so the counter counts each once.
Marking read flips `read` on condition that it was false and subtracts what it flipped in
the same transaction, on condition that the counter stays at or above zero.

Push tokens: `push-tokens` (pk the token's digest) names each token's one owner; the GSI
`by-citizen` lists a citizen's phones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb_cursors import decode_key, encode_key
from chalicelib.adapters.dynamodb_models import (
    Challenge,
    ChallengeEntry,
    Citizen,
    InboxCounter,
    Notification,
    PayoutItem,
    PayoutSkip,
    PushToken,
)
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain.notifications import (
    COUNTER_KEY,
    ID_SHAPE,
    Cause,
    payout_cause,
    skip_cause,
)
from chalicelib.domain.phone_proofs import Notice
from chalicelib.errors import RetryableConflict

MAX_TRANSACTION = 100


@dataclass(frozen=True)
class StoredNotice:
    notice: Notice
    read: bool


@dataclass(frozen=True)
class InboxPage:
    notifications: list[StoredNotice]
    unread: int
    next_cursor: str | None


@dataclass(frozen=True)
class StoredToken:
    token_key: str
    citizen_id: str
    platform: str
    token: str
    endpoint_arn: str | None


def counter_update(
    tx: NamedTransaction, citizen_id: str, change: int, name: str = "counter"
) -> None:
    """The unread counter's move in a transaction: never below zero."""
    counter = InboxCounter(citizen_id, COUNTER_KEY)
    condition = None if change >= 0 else InboxCounter.unread >= -change
    tx.update(name, counter, [InboxCounter.unread.add(change)], condition, versioned=False)


def notification_item(citizen_id: str, notice: Notice) -> Notification:
    return Notification(
        citizen_id,
        notice.notification_id,
        kind=notice.kind,
        title=notice.title,
        body=notice.body,
        created_at=notice.created_at,
        read=False,
    )


class DynamoDbInbox:
    def add(self, citizen_id: str, notice: Notice) -> bool:
        """Write the notification and count it unread, once: False when it was already
        there (a replay), or the account is closed (its inbox was erased: a cause delivered
        late or replayed after the close must not refill it). Raises RetryableConflict when
        another write raced the counter."""
        tx = NamedTransaction()
        tx.check("open", Citizen, citizen_id, Citizen.closed_at.does_not_exist())
        tx.put(
            "notice",
            notification_item(citizen_id, notice),
            Notification.notification_id.does_not_exist(),
        )
        counter_update(tx, citizen_id, 1)
        try:
            tx.commit()
        except ConditionsFailed as e:
            if e.names & {"notice", "open"}:
                return False
            raise RetryableConflict(f"inbox: {sorted(e.names)}") from e
        return True

    def page(self, citizen_id: str, limit: int, cursor: str | None) -> InboxPage:
        """Newest first: one Query (below the counter's key) and one GetItem (the counter)."""
        start = decode_key(cursor, ID_SHAPE) if cursor else None
        condition = Notification.notification_id < (start or COUNTER_KEY)
        found = [
            StoredNotice(
                Notice(n.notification_id, n.kind, n.title, n.body, n.created_at), bool(n.read)
            )
            for n in Notification.query(
                citizen_id, condition, scan_index_forward=False, limit=limit, page_size=limit
            )
        ]
        more = len(found) == limit
        return InboxPage(
            found,
            self.unread(citizen_id),
            encode_key(found[-1].notice.notification_id) if more and found else None,
        )

    def unread(self, citizen_id: str) -> int:
        try:
            counter = InboxCounter.get(citizen_id, COUNTER_KEY)
        except InboxCounter.DoesNotExist:
            return 0
        return max(0, int(counter.unread))

    def exists(self, citizen_id: str, notification_id: str) -> bool:
        try:
            Notification.get(citizen_id, notification_id, attributes_to_get=["citizen_id"])
        except Notification.DoesNotExist:
            return False
        return True

    def mark_read(self, citizen_id: str, up_to: str) -> int:
        """Mark every unread notification up to `up_to` (inclusive) read, each once, with the
        counter in the same transaction (99 notifications a transaction). Answers how many
        this call marked. A race with another mark fails a condition: read again."""
        marked = 0
        for _ in range(8):
            unread = [
                n.notification_id
                for n in Notification.query(
                    citizen_id,
                    Notification.notification_id <= up_to,
                    filter_condition=Notification.read == False,  # noqa: E712
                    consistent_read=True,
                    attributes_to_get=["notification_id", "read"],
                )
            ]
            if not unread:
                return marked
            raced = False
            for start in range(0, len(unread), MAX_TRANSACTION - 1):
                ids = unread[start : start + MAX_TRANSACTION - 1]
                tx = NamedTransaction()
                for i, notification_id in enumerate(ids):
                    tx.update(
                        f"n{i}",
                        Notification(citizen_id, notification_id),
                        [Notification.read.set(True)],
                        Notification.read == False,  # noqa: E712
                        versioned=False,
                    )
                counter_update(tx, citizen_id, -len(ids))
                try:
                    tx.commit()
                except (ConditionsFailed, RetryableConflict):
                    raced = True
                    break
                marked += len(ids)
            if not raced:
                return marked
        raise RetryableConflict("inbox: marks keep racing")

    def erase(self, citizen_id: str) -> int:
        """Delete the citizen's notifications and their counter (closing an account)."""
        removed = 0
        with Notification.batch_write() as batch:
            for n in Notification.query(  # strongly: one written a moment before goes too
                citizen_id,
                attributes_to_get=["citizen_id", "notification_id"],
                consistent_read=True,
            ):
                batch.delete(n)
                removed += 1
        return removed


def _stored(item: PushToken) -> StoredToken:
    return StoredToken(
        item.token_key, item.citizen_id, item.platform, item.token, item.endpoint_arn
    )


class DynamoDbPushTokens:
    def get(self, token_key: str) -> StoredToken | None:
        try:
            return _stored(PushToken.get(token_key, consistent_read=True))
        except PushToken.DoesNotExist:
            return None

    def put(
        self,
        token_key: str,
        citizen_id: str,
        platform: str,
        token: str,
        endpoint_arn: str | None,
        now: datetime,
    ) -> bool:
        """The token's one owner from now on (a second citizen's registration moves it), on
        condition that their account is not closed (False: closed, nothing saved)."""
        from chalicelib.adapters.dynamodb_closing import save_while_open

        item = PushToken(
            token_key,
            citizen_id=citizen_id,
            platform=platform,
            token=token,
            endpoint_arn=endpoint_arn,
            registered_at=now,
        )
        return save_while_open(citizen_id, item)

    def remove(self, token_key: str, citizen_id: str) -> bool:
        """Delete the token if it is the citizen's (False: not theirs, or gone)."""
        return self._delete(token_key, PushToken.citizen_id == citizen_id)

    def remove_endpoint(self, token_key: str, endpoint_arn: str) -> bool:
        """Delete the token if it still goes to this endpoint (a re-registration since made
        a new one: keep it)."""
        return self._delete(token_key, PushToken.endpoint_arn == endpoint_arn)

    def _delete(self, token_key: str, condition: object) -> bool:
        from pynamodb.exceptions import DeleteError

        try:
            PushToken(token_key).delete(condition=condition)  # type: ignore[arg-type]
        except DeleteError as e:
            if condition_failed(e):
                return False
            raise
        return True

    def of_citizen(self, citizen_id: str) -> list[StoredToken]:
        return [_stored(t) for t in PushToken.by_citizen.query(citizen_id)]


# -- Causes, read from the streams' images (DynamoDB's attribute-value format) --------------


def _image(record_dynamodb: dict[str, Any], which: str) -> dict[str, Any]:
    return dict(record_dynamodb.get(which) or {})


def payout_cause_of(record_dynamodb: dict[str, Any]) -> Cause | None:
    """A payout item that moved from pending to paid or failed."""
    new = _image(record_dynamodb, "NewImage")
    if not new:
        return None
    item = PayoutItem.from_raw_data(new)
    old = _image(record_dynamodb, "OldImage")
    old_status = str(old["status"]["S"]) if "status" in old else None
    return payout_cause(
        item.run_id,
        item.citizen_id,
        item.period,
        int(item.amount),
        item.account_last4,
        old_status,
        item.status,
        item.settled_at,
    )


def skip_cause_of(record_dynamodb: dict[str, Any]) -> Cause | None:
    new = _image(record_dynamodb, "NewImage")
    if not new or _image(record_dynamodb, "OldImage"):
        return None  # a skip is written once; only its first write tells
    skip = PayoutSkip.from_raw_data(new)
    return skip_cause(skip.run_id, skip.citizen_id, skip.reason, skip.at)


@dataclass(frozen=True)
class Finish:
    citizen_id: str
    challenge_id: str
    finished_at: datetime


def finish_of(record_dynamodb: dict[str, Any]) -> Finish | None:
    """An entry that has just finished (a draw's pages, kept in the same table, are not
    entries: their keys start with `draw#`)."""
    new = _image(record_dynamodb, "NewImage")
    if not new or "finished_at" not in new or "finished_at" in _image(record_dynamodb, "OldImage"):
        return None
    if str(new.get("citizen_id", {}).get("S", "")).startswith("draw#"):
        return None
    entry = ChallengeEntry.from_raw_data(new)
    assert entry.finished_at is not None
    return Finish(entry.citizen_id, entry.challenge_id, entry.finished_at)


def challenge_titles(challenge_ids: set[str]) -> dict[str, str]:
    """The challenges' titles, one BatchGetItem per 100."""
    found: dict[str, str] = {}
    for challenge in Challenge.batch_get(
        sorted(challenge_ids), attributes_to_get=["challenge_id", "title"]
    ):
        found[challenge.challenge_id] = challenge.title
    return found


def notice_of(record_dynamodb: dict[str, Any]) -> tuple[str, Notice] | None:
    """A notification just added to an inbox (the counter's changes are not one)."""
    new = _image(record_dynamodb, "NewImage")
    if not new or _image(record_dynamodb, "OldImage") or "kind" not in new:
        return None
    item = Notification.from_raw_data(new)
    return item.citizen_id, Notice(
        item.notification_id, item.kind, item.title, item.body, item.created_at
    )
