"""The robot's outbox: a deposit survives until its ack, whatever happens in between."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot.outbox import Outbox


def _event(event_id: str, cans: int = 1) -> dict[str, object]:
    return {
        "event_id": event_id,
        "citizen": {"phone": "010-0000-0001"},
        "items": [{"material": "can", "accepted": cans, "rejected": 0}],
        "occurred_at": "2026-11-25T10:15:00+09:00",
    }


def test_a_deposit_survives_a_restart_until_acked(tmp_path: Path) -> None:
    # GIVEN a deposit kept, then the robot "reboots" (the outbox is reopened)
    box = Outbox(tmp_path / "outbox.sqlite")
    assert box.put(_event("EVT-00000001"))
    box.mark_sent("EVT-00000001")
    box.close()
    box = Outbox(tmp_path / "outbox.sqlite")
    # THEN it is still pending, with the same payload and event id
    [pending] = box.pending()
    assert pending.event_id == "EVT-00000001"
    assert pending.payload == _event("EVT-00000001")
    assert pending.sent_count == 1
    # WHEN its ack arrives (twice: a resend is answered `duplicate`)
    assert box.acknowledge("EVT-00000001", {"event_id": "EVT-00000001", "status": "credited"})
    assert not box.acknowledge("EVT-00000001", {"event_id": "EVT-00000001", "status": "duplicate"})
    # THEN nothing is pending and the first ack is the one kept
    assert box.pending() == []
    assert box.ack_of("EVT-00000001") == {"event_id": "EVT-00000001", "status": "credited"}
    assert box.counts() == (0, 1)


def test_the_first_payload_of_an_event_is_kept(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.put(_event("EVT-00000002", cans=1))
    assert not box.put(_event("EVT-00000002", cans=9))
    assert box.pending()[0].payload["items"] == [{"material": "can", "accepted": 1, "rejected": 0}]


def test_an_event_needs_its_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Outbox(tmp_path / "o.sqlite").put({"citizen": {}})


def test_only_deposits_not_sent_recently_are_due(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put(_event("EVT-00000003"))
    box.put(_event("EVT-00000004"))
    box.mark_sent("EVT-00000003")
    due = box.pending(sent_before=0.0)  # "sent before the epoch": only never-sent ones
    assert [p.event_id for p in due] == ["EVT-00000004"]


def test_an_ack_for_an_unknown_event_changes_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.put(_event("EVT-00000005"))
    assert not box.acknowledge("EVT-99999999", {"status": "credited"})
    assert box.counts() == (1, 0)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["put", "ack", "reopen"]), st.integers(0, 5)),
        max_size=40,
    )
)
def test_pending_is_exactly_what_was_put_and_not_acked(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    # GIVEN any interleaving of deposits, acks (duplicated, early, unknown) and reboots
    path = tmp_path_factory.mktemp("outbox") / "o.sqlite"
    box = Outbox(path)
    put: list[str] = []
    acked: set[str] = set()
    for op, n in steps:
        event_id = f"EVT-{n:08d}"
        if op == "put":
            box.put(_event(event_id))
            if event_id not in put:
                put.append(event_id)
        elif op == "ack":
            first = box.acknowledge(event_id, {"event_id": event_id})
            assert first == (event_id in put and event_id not in acked)
            if event_id in put:
                acked.add(event_id)
        else:
            box.close()
            box = Outbox(path)
    # THEN pending is what was put and never acked, in the order it was put
    assert [p.event_id for p in box.pending()] == [e for e in put if e not in acked]


def test_counting_the_pending_uses_the_pending_index(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for n in range(3):
        box.put(_event(f"EVT-1000000{n}"))
    box.acknowledge("EVT-10000000", {"status": "credited"})
    assert box.pending_count() == 2
    plan = box._db.execute(
        "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM outbox WHERE ack IS NULL"
    ).fetchall()
    assert "outbox_pending" in str(plan)
