"""Closing an account, the rules in plain values: the boards a name must leave, the forfeit's
guard, and a forfeit in invariants 2 and 3 (chalicelib.domain.closing, ledger, ledger_audit)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chalicelib.domain import boards, closing
from chalicelib.domain.ledger import LedgerEntry, earned_by, forfeited_by, paid_by
from chalicelib.domain.ledger_audit import AuditedCitizen, audit_citizen, city_totals
from chalicelib.domain.payout_runs import RunSummary

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)  # Tuesday 12:00 in Seoul


def test_a_name_leaves_every_board_still_kept_and_no_other() -> None:
    today = date(2026, 12, 8)
    days = [
        closing.WalkedDay(today, "naeoe-dong"),
        closing.WalkedDay(today - timedelta(days=1), "naeoe-dong"),  # same week
        closing.WalkedDay(today - timedelta(days=60), "buwon-dong"),  # day board expired
        closing.WalkedDay(today - timedelta(days=420), "buwon-dong"),  # both expired
    ]
    found = closing.named_boards(days, NOW)
    assert len(found) == len(set(found))
    assert set(found) == {
        "day#2026-12-08#city", "day#2026-12-08#district:naeoe-dong",
        "day#2026-12-07#city", "day#2026-12-07#district:naeoe-dong",
        "week#2026-W50#city", "week#2026-W50#district:naeoe-dong",
        boards.board_id(boards.week_period(today - timedelta(days=60)), "city"),
        boards.board_id(boards.week_period(today - timedelta(days=60)), "district:buwon-dong"),
    }  # fmt: skip
    assert closing.named_boards([], NOW) == []


def test_the_erased_name_outranks_every_name_the_citizen_had() -> None:
    assert closing.closed_name_key(8) > boards.profile_name_key(7, "힣힣힣힣힣")
    assert closing.closed_name_key(1) > "2026-12-08|000000009000|legacy"


def test_one_forfeit_per_account_version() -> None:
    assert closing.forfeit_guard("c", 4) == closing.forfeit_guard("c", 4)
    assert closing.forfeit_guard("c", 4) != closing.forfeit_guard("c", 5)
    assert closing.forfeit_guard("c", 4) != closing.forfeit_guard("d", 4)


def test_a_forfeit_is_neither_earned_nor_paid_and_counted_apart() -> None:
    assert (earned_by("forfeit", -700), paid_by("forfeit", -700)) == (0, 0)
    assert forfeited_by("forfeit", -700) == 700
    assert forfeited_by("recycling", 700) == forfeited_by("payout", -700) == 0


def _entry(n: int, kind: str, points: int, after: int) -> LedgerEntry:
    return LedgerEntry("c", f"{n:012d}-x", kind, points, after, NOW, f"k{n}", {})


def test_a_closed_account_with_a_forfeit_chains_and_the_city_balances() -> None:
    entries = [
        _entry(1, "recycling", 3000, 3000),
        _entry(2, "payout", -2000, 1000),
        _entry(3, "payout_reversal", 2000, 3000),
        _entry(4, "forfeit", -3000, 0),
    ]
    tombstone = AuditedCitizen("c", balance=0, lifetime_earned=3000, lifetime_paid=0)
    assert audit_citizen(tombstone, entries) == []
    run = RunSummary(
        "payout-2026-11", "2026-11", "settled", NOW, "system", 1, 1, 1, 2000, 0, 0,
        failed_items=1, failed_points=2000,
    )  # fmt: skip
    totals = city_totals(3000, 0, 0, [run], forfeited=3000)
    assert totals["balanced"] is True and totals["difference"] == 0
    assert totals["points_forfeited"] == 3000
    # a forfeit the audit did not count is a gap, not a balance
    assert city_totals(3000, 0, 0, [run])["balanced"] is False
