"""DynamoDB adapter for the staff action log: appended in the same transaction as the write
it records (`put_in`), or alone where the action is no DynamoDB write (`append`); read
newest first by one Query on the table or on an index. The IAM grants on its table allow
no update or delete (infra/cdk/access.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamodb_cursors import decode_key, encode_key
from chalicelib.adapters.dynamodb_models import StaffAction as Item
from chalicelib.adapters.dynamodb_transactions import NamedTransaction
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.staff_actions import RETENTION, ActionFilter, ActionPage, StaffAction

LOG: Final = "staff"
"""The one partition of the table (see the model)."""
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ACTION_ID: Final = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def to_item(action: StaffAction) -> Item:
    return Item(
        LOG,
        action.action_id,
        at=action.at,
        actor=action.actor,
        roles=list(action.roles),
        action=action.action,
        target=action.target,
        detail=action.detail,
        expires=action.at + RETENTION,
    )


def new_only() -> Condition:
    """An entry is written once: a repeat of its id is refused, never an overwrite."""
    return Item.action_id.does_not_exist()


def put_in(transaction: NamedTransaction, action: StaffAction, name: str = "staff_action") -> None:
    """Add the entry to the transaction of the write it records (item name `staff_action`,
    or `name` where one transaction records several writes, each with its own entry)."""
    transaction.put(name, to_item(action), condition=new_only())


class DynamoDbStaffActions:
    @staticmethod
    def append(action: StaffAction) -> None:
        """Record an action that is no DynamoDB write (a queue redrive, a shadow update)."""
        to_item(action).save(condition=new_only())

    @staticmethod
    def page(which: ActionFilter, limit: int, cursor: str | None = None) -> ActionPage:
        """Newest first; `actor` and `target` each use their index (both: the actor's index,
        filtered by target); `since` bounds the key range. A cursor is the last id read; the
        start key around it names the partition being read, so it continues only that."""
        condition = Item.action_id >= _lowest_id(which.since) if which.since else None
        after = decode_key(cursor, _ACTION_ID) if cursor else None
        start: dict[str, Any] | None = (
            None if after is None else {"log": {"S": LOG}, "action_id": {"S": after}}
        )
        query: dict[str, Any] = {"scan_index_forward": False, "limit": limit}
        if which.actor is not None:
            if start is not None:
                start["actor"] = {"S": which.actor}
            target = Item.target == which.target if which.target is not None else None
            results = Item.by_actor.query(
                which.actor, condition, target, last_evaluated_key=start, **query
            )
        elif which.target is not None:
            if start is not None:
                start["target"] = {"S": which.target}
            results = Item.by_target.query(
                which.target, condition, last_evaluated_key=start, **query
            )
        else:
            results = Item.query(LOG, condition, last_evaluated_key=start, **query)
        actions = [from_item(item) for item in results]
        last = results.last_evaluated_key
        return ActionPage(actions, encode_key(last["action_id"]["S"]) if last else None)


def from_item(item: Item) -> StaffAction:
    return StaffAction(
        action_id=item.action_id,
        at=item.at,
        actor=item.actor,
        roles=tuple(item.roles or ()),
        action=item.action,
        target=item.target,
        detail=item.detail.as_dict(),  # a raw MapAttribute: its attributes as stored
    )


def _lowest_id(since: datetime) -> str:
    """The lowest action id at or after `since` (ids start with their time; a time before
    the epoch has no id of its own: every id is after it)."""
    return sortable_id(max(since, EPOCH))[:10] + "0" * 16
