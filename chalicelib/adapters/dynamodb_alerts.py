"""DynamoDB adapter for operators' alerts (the `alerts` table, chalicelib.adapters.
dynamodb_models.Alert).

The fleet's rules write alerts inside the transaction of the device's episode
(`raise_in`, `escalate_in`, `clear_in`, called by chalicelib.adapters.dynamodb_fleet); staff
steps are a transaction of the alert's update and its action-log entry (and, for a clear by
hand, the device's episode). Every staff update touches only its own attributes and appends
to the timeline (`list_append`), so an acknowledgement and the device's clearing, racing,
both land. Lists are Queries on `by-status` (`<city>#active|cleared`) or `by-city` (all),
newest update first; the other filters are filter expressions over a bounded number of pages.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb_cursors import MAX_CURSOR
from chalicelib.adapters.dynamodb_models import Alert as Item
from chalicelib.adapters.dynamodb_models import AlertTimelineEntry, DeviceState
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain import json_limits
from chalicelib.domain.alerts import (
    ALERT_ID,
    MAX_STAFF_ENTRIES,
    Alert,
    AlertFilter,
    AlertPage,
    Clear,
    Escalate,
    TimelineEntry,
)
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.errors import BadRequest

RETENTION: Final = timedelta(days=731)
"""A cleared alert is kept two years (TTL), for incident reviews."""
MAX_TIMELINE: Final = MAX_STAFF_ENTRIES + 4
"""The timeline's hard bound in the write's condition: the staff entries, raised, escalated,
acknowledged and cleared."""
MAX_PAGES: Final = 5
"""Query pages one list request reads at most; a sparse filter answers fewer alerts and a
cursor that continues (nothing reads on without bound)."""
_FILTERED_PAGE: Final = 100
_UPDATED_KEY: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
)


def stamp(moment: datetime) -> str:
    """A fixed-width UTC time: sorts as the instants do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def updated_key(moment: datetime, alert_id: str) -> str:
    return f"{stamp(moment)}#{alert_id}"


def _entry(entry: TimelineEntry) -> AlertTimelineEntry:
    return AlertTimelineEntry(at=entry.at, event=entry.event, by=entry.by, note=entry.note)


def _appended(entry: TimelineEntry) -> Action:
    """The entry at the end of the timeline (`list_append`: nothing read, nothing lost)."""
    return Item.timeline.set(Item.timeline.append([_entry(entry)]))


def _touched(alert_id: str, now: datetime) -> list[Action]:
    return [Item.updated_at.set(now), Item.updated_key.set(updated_key(now, alert_id))]


def to_item(city: str, alert: Alert) -> Item:
    return Item(
        alert.alert_id,
        city=city,
        feed=f"{city}#{alert.status}",
        updated_key=updated_key(alert.updated_at, alert.alert_id),
        device_id=alert.device_id,
        device_type=alert.device_type,
        district=alert.district,
        kind=alert.kind,
        severity=alert.severity,
        status=alert.status,
        acknowledged=alert.acknowledged,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        assignee=alert.assignee,
        raised_at=alert.raised_at,
        cleared_at=alert.cleared_at,
        updated_at=alert.updated_at,
        detail=alert.detail,
        timeline=[_entry(e) for e in alert.timeline],
    )


def from_item(item: Item) -> Alert:
    return Alert(
        alert_id=item.alert_id,
        device_id=item.device_id,
        device_type=item.device_type,
        district=item.district,
        kind=item.kind,
        severity=item.severity,
        status=item.status,
        raised_at=item.raised_at,
        updated_at=item.updated_at,
        detail=item.detail or "",
        acknowledged=bool(item.acknowledged),
        acknowledged_by=item.acknowledged_by,
        acknowledged_at=item.acknowledged_at,
        assignee=item.assignee,
        cleared_at=item.cleared_at,
        timeline=tuple(
            TimelineEntry(e.at, e.event, e.by, e.note)  # type: ignore[arg-type]
            for e in (item.timeline or [])
        ),
    )


# ---------------------------------------------------------------- the rules' writes


def raise_in(transaction: NamedTransaction, city: str, alert: Alert) -> None:
    """The new alert, once: its id is the episode's, so a second raise is refused."""
    transaction.put(
        f"alert:{alert.alert_id}", to_item(city, alert), condition=Item.alert_id.does_not_exist()
    )


def escalate_in(transaction: NamedTransaction, change: Escalate, now: datetime) -> None:
    entry = TimelineEntry(change.at, "escalated", None, change.detail)
    actions = [
        Item.severity.set(change.severity),
        Item.detail.set(change.detail),
        _appended(entry),
        *_touched(change.alert_id, now),
    ]
    transaction.update(
        f"alert:{change.alert_id}",
        Item(change.alert_id),
        actions,
        condition=Item.alert_id.exists(),
        versioned=False,
    )


def clear_in(
    transaction: NamedTransaction,
    city: str,
    change: Clear,
    now: datetime,
    *,
    by: str | None = None,
    condition: Condition | None = None,
) -> None:
    """The alert cleared (by the system unless `by`). Only its status, clearing time and
    timeline change: an acknowledgement or comment landing meanwhile stays."""
    entry = TimelineEntry(change.at, "cleared", by, change.note)
    actions = [
        Item.status.set("cleared"),
        Item.feed.set(f"{city}#cleared"),
        Item.cleared_at.set(change.at),
        Item.expires.set(change.at + RETENTION),
        _appended(entry),
        *_touched(change.alert_id, now),
    ]
    exists = Item.alert_id.exists()
    transaction.update(
        f"alert:{change.alert_id}",
        Item(change.alert_id),
        actions,
        condition=exists if condition is None else exists & condition,
        versioned=False,
    )


# ---------------------------------------------------------------- the store


class AlertConflict(Exception):
    """A staff step's condition failed: the alert is gone, or moved since it was read."""


class DynamoDbAlerts:
    def __init__(self, city: str) -> None:
        self._city = city

    # -- reads

    def get(self, alert_id: str) -> Alert | None:
        try:
            return from_item(Item.get(alert_id))
        except Item.DoesNotExist:
            return None

    def page(self, which: AlertFilter, limit: int, cursor: str | None = None) -> AlertPage:
        """Most recently updated first, `limit` at most, reading at most MAX_PAGES pages."""
        index: Any
        if which.status == "all":
            index, hash_key, hash_name = Item.by_city, self._city, "city"
        else:
            index, hash_key = Item.by_status, f"{self._city}#{which.status}"
            hash_name = "feed"
        since = Item.updated_key >= stamp(which.updated_since) if which.updated_since else None
        filters = _filters(which)
        page_size = _FILTERED_PAGE if filters is not None else limit
        start = _start_key(hash_name, hash_key, _read_cursor(cursor)) if cursor else None
        found: list[Alert] = []
        for _ in range(MAX_PAGES):
            results = index.query(
                hash_key,
                range_key_condition=since,
                filter_condition=filters,
                scan_index_forward=False,
                page_size=page_size,
                last_evaluated_key=start,
            )
            page = next(results.page_iter)
            items = page.get("Items") or []
            last = page.get("LastEvaluatedKey")
            for n, raw in enumerate(items):
                found.append(from_item(Item.from_raw_data(raw)))
                if len(found) == limit:
                    more = n < len(items) - 1 or last is not None
                    return AlertPage(found, _cursor(found[-1]) if more else None)
            if not last:
                return AlertPage(found, None)
            start = last
        assert start is not None
        return AlertPage(found, _encode(start["updated_key"]["S"], start["alert_id"]["S"]))

    # -- staff steps (each with its action-log entry, in one transaction)

    def acknowledge(self, alert_id: str, entry: TimelineEntry, action: StaffAction) -> None:
        acknowledged = Item.acknowledged.does_not_exist() | (Item.acknowledged == False)  # noqa: E712
        self._staff_step(
            alert_id,
            [
                Item.acknowledged.set(True),
                Item.acknowledged_by.set(entry.by or ""),
                Item.acknowledged_at.set(entry.at),
                _appended(entry),
                *_touched(alert_id, entry.at),
            ],
            acknowledged,
            action,
        )

    def assign(
        self, alert_id: str, assignee: str | None, entry: TimelineEntry, action: StaffAction
    ) -> None:
        changed = (
            Item.assignee.exists()
            if assignee is None
            else (Item.assignee.does_not_exist() | (Item.assignee != assignee))
        )
        self._staff_step(
            alert_id,
            [
                Item.assignee.remove() if assignee is None else Item.assignee.set(assignee),
                _appended(entry),
                *_touched(alert_id, entry.at),
            ],
            changed & (size(Item.timeline) < MAX_TIMELINE),
            action,
        )

    def comment(self, alert_id: str, entry: TimelineEntry, action: StaffAction) -> None:
        self._staff_step(
            alert_id,
            [_appended(entry), *_touched(alert_id, entry.at)],
            size(Item.timeline) < MAX_TIMELINE,
            action,
        )

    def clear_by_hand(self, alert: Alert, entry: TimelineEntry, action: StaffAction) -> None:
        """Clear the alert and close its device's episode (so the next report of the same
        condition raises a new alert), with the action, in one transaction. An episode that
        is not this alert's any more is left alone (the alert is cleared all the same)."""
        episode = Path(DeviceState.alerts)[alert.kind]
        for with_episode in (True, False):
            transaction = NamedTransaction()
            clear_in(
                transaction,
                self._city,
                Clear(alert.alert_id, entry.at, entry.note),
                entry.at,
                by=entry.by,
                condition=Item.status == "active",
            )
            if with_episode:
                transaction.update(
                    "episode",
                    DeviceState(alert.device_id),
                    [episode.remove()],
                    condition=episode["alert_id"] == alert.alert_id,
                    versioned=False,
                )
            put_in(transaction, action)
            try:
                transaction.commit()
            except ConditionsFailed as e:
                if e.names == {"episode"} and with_episode:
                    continue
                raise AlertConflict(alert.alert_id) from e
            return

    def _staff_step(
        self, alert_id: str, actions: list[Action], condition: Condition, action: StaffAction
    ) -> None:
        transaction = NamedTransaction()
        transaction.update(
            "alert",
            Item(alert_id),
            actions,
            condition=Item.alert_id.exists() & condition,
            versioned=False,
        )
        put_in(transaction, action)
        try:
            transaction.commit()
        except ConditionsFailed as e:
            raise AlertConflict(alert_id) from e


def _filters(which: AlertFilter) -> Condition | None:
    conditions: list[Condition] = []
    if which.acknowledged is not None:
        conditions.append(Item.acknowledged == which.acknowledged)
    if which.kind is not None:
        conditions.append(Item.kind == which.kind)
    if which.severity is not None:
        conditions.append(Item.severity == which.severity)
    if which.district is not None:
        conditions.append(Item.district == which.district)
    joined: Condition | None = None
    for condition in conditions:
        joined = condition if joined is None else joined & condition
    return joined


def _cursor(alert: Alert) -> str:
    return _encode(updated_key(alert.updated_at, alert.alert_id), alert.alert_id)


def _encode(key: str, alert_id: str) -> str:
    raw = json.dumps({"u": key, "a": alert_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[str, str]:
    """The position a cursor stands for: an update key and an alert id, well formed."""
    invalid = BadRequest("the cursor is not valid", code="invalid_cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json_limits.loads(raw, max_depth=1, max_bytes=MAX_CURSOR)
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise invalid from e
    if not isinstance(document, dict) or set(document) != {"u", "a"}:
        raise invalid
    key, alert_id = document["u"], document["a"]
    if not isinstance(key, str) or not isinstance(alert_id, str):
        raise invalid
    time_part, _, key_id = key.partition("#")
    if not (ALERT_ID.fullmatch(alert_id) and _UPDATED_KEY.fullmatch(time_part)):
        raise invalid
    if key_id != alert_id:
        raise invalid
    return key, alert_id


def _start_key(hash_name: str, hash_key: str, position: tuple[str, str]) -> dict[str, Any]:
    key, alert_id = position
    return {
        hash_name: {"S": hash_key},
        "updated_key": {"S": key},
        "alert_id": {"S": alert_id},
    }
