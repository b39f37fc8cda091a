"""One contract, two quarantine stores: the in-memory fake the unit tests use and the DynamoDB
adapter (on moto) keep, redact, order and page refused messages alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.errors import BadRequest
from tests.fakes import MemoryQuarantine

START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


class Ticking:
    """A clock one second further at each read: each message its own moment."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryQuarantine(Ticking())
        return
    request.getfixturevalue("aws")
    from chalicelib.adapters.dynamodb_quarantine import DynamoDbQuarantine

    yield DynamoDbQuarantine(Ticking())


def _keep(store: Any, source: str, n: int, **fields: Any) -> None:
    message: dict[str, Any] = {
        "reason": "malformed_json",
        "device_id": f"robot-{n:03d}",
        "event_id": f"e-{n}",
        "details": f"message {n}",
        "payload": "{",
    }
    store.quarantine(source=source, **{**message, **fields})


def _seen(page: Any) -> list[tuple[Any, ...]]:
    """What a reader sees of each message, all but its store-made id."""
    return [
        (m.source, m.reason, m.device_id, m.event_id, m.details, m.payload, m.received_at)
        for m in page.items
    ]


def test_a_source_reads_newest_first_and_only_its_own(store: Any) -> None:
    for n in range(3):
        _keep(store, "recycling", n)
    _keep(store, "fleet", 9, payload=None, event_id=None)
    page = store.newest("recycling", 10)
    assert [m.event_id for m in page.items] == ["e-2", "e-1", "e-0"]
    assert [m.received_at for m in page.items] == [START + timedelta(seconds=s) for s in (3, 2, 1)]
    assert page.next_cursor is None
    assert _seen(store.newest("fleet", 10)) == [
        (
            "fleet",
            "malformed_json",
            "robot-009",
            None,
            "message 9",
            None,
            START + timedelta(seconds=4),
        )
    ]
    assert _seen(store.newest("steps", 10)) == []
    ids = [m.quarantine_id for m in page.items]
    assert len(set(ids)) == 3


def test_pages_follow_their_cursor_to_the_end(store: Any) -> None:
    for n in range(5):
        _keep(store, "recycling", n)
    first = store.newest("recycling", 2)
    second = store.newest("recycling", 2, first.next_cursor)
    third = store.newest("recycling", 2, second.next_cursor)
    pages = [[m.event_id for m in p.items] for p in (first, second, third)]
    assert pages == [["e-4", "e-3"], ["e-2", "e-1"], ["e-0"]]
    assert first.next_cursor and second.next_cursor and third.next_cursor is None


def test_a_cursor_continues_only_its_own_source(store: Any) -> None:
    for n in range(3):
        _keep(store, "recycling", n)
        _keep(store, "fleet", n)
    cursor = store.newest("recycling", 1).next_cursor
    with pytest.raises(BadRequest) as foreign:
        store.newest("fleet", 1, cursor)
    assert foreign.value.code == "invalid_cursor"
    with pytest.raises(BadRequest) as made_up:
        store.newest("recycling", 1, "not-a-cursor")
    assert made_up.value.code == "invalid_cursor"


def test_every_text_is_stored_with_its_phone_numbers_redacted(store: Any) -> None:
    _keep(
        store,
        "recycling",
        0,
        device_id="robot-010-1234-5678",
        event_id="e-01012345678",
        details="code from +82 10-1234-5678",
        payload='{"phone": "010 1234 5678", "items": 3}',
    )
    (kept,) = store.newest("recycling", 1).items
    assert (kept.device_id, kept.event_id) == ("robot-<phone>", "e-<phone>")
    assert kept.details == "code from <phone>"
    assert kept.payload == '{"phone": "<phone>", "items": 3}'


def test_long_texts_are_cut_after_redaction(store: Any) -> None:
    from chalicelib.adapters.dynamodb_quarantine import MAX_STORED_PAYLOAD

    _keep(store, "recycling", 0, details="d" * 2500, payload="010-1234-5678" + "p" * 20_000)
    (kept,) = store.newest("recycling", 1).items
    assert kept.details == "d" * 2000
    assert kept.payload == ("<phone>" + "p" * 20_000)[:MAX_STORED_PAYLOAD]


def test_a_full_last_page_ends_the_listing(store: Any) -> None:
    """DynamoDB answers a last key whenever a query reaches its limit, even at the end (moto
    only when more items follow): a full last page may carry a cursor, which then leads to an
    empty page without one."""
    for n in range(2):
        _keep(store, "recycling", n)
    full = store.newest("recycling", 2)
    assert [m.event_id for m in full.items] == ["e-1", "e-0"]
    if full.next_cursor is not None:
        after = store.newest("recycling", 2, full.next_cursor)
        assert (after.items, after.next_cursor) == ([], None)
