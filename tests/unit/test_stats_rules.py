"""The stats' pure rules: items by material as the credit computed them, the invariant-3
split, transaction-sized chunks, steps increases, the audit's reconciliation, the report's
CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import reports, totals
from chalicelib.domain.ledger import LedgerEntry
from chalicelib.domain.recycling import DepositItem, DepositRejected, compute_credit
from chalicelib.domain.reports import CitizenMonthItems
from chalicelib.services.reports import ReportService

RATES = {"can": 15, "pet": 10, "glass": 5}
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
DAILY_LIMIT = 100

items_strategy = st.lists(
    st.tuples(st.sampled_from(sorted(RATES)), st.integers(0, 80), st.integers(0, 5)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)


@settings(max_examples=300)
@given(items_strategy, st.integers(0, 120))
def test_materials_from_the_detail_are_exactly_the_credit_by_material(
    raw: list[tuple[str, int, int]], credited_today: int
) -> None:
    # GIVEN any deposit and any count credited earlier that day
    items = [DepositItem(material=m, accepted=a, rejected=r) for m, a, r in raw]
    refusal = (
        "no_accepted_items"
        if sum(a for _, a, _ in raw) == 0
        else "daily_limit"
        if credited_today >= DAILY_LIMIT
        else None
    )
    if refusal is not None:
        # refused deposits post nothing, so the stats never read them
        with pytest.raises(DepositRejected) as refused:
            compute_credit(items, RATES, credited_today, DAILY_LIMIT)
        assert refused.value.reason == refusal
        return
    credit = compute_credit(items, RATES, credited_today, DAILY_LIMIT)
    # WHEN the stats read the entry's detail as the deposit service writes it
    detail = {
        "items": [i.model_dump() for i in items],
        "items_credited": credit.items_credited,
        "items_over_limit": credit.items_over_limit,
    }
    found = dict(totals.credited_by_material(detail))
    # THEN the materials are the credit's, and never more than was credited
    assert found == {m: n for m, n in credit.credited_by_material.items() if n}
    assert sum(found.values()) == credit.items_credited


_scalars = st.one_of(st.none(), st.integers(), st.text())
_keys = st.one_of(st.text(max_size=5), st.sampled_from(["items", "items_credited"]))


@given(st.dictionaries(_keys, st.one_of(_scalars, st.lists(_scalars, max_size=3))))
def test_a_detail_of_another_shape_counts_no_material(detail: dict[str, object]) -> None:
    # Items that are not objects naming a material and its count: nothing by material.
    assert totals.credited_by_material(detail) == ()


def test_hostile_details_name_no_counter() -> None:
    detail = {
        "items_credited": 5,
        "items": [
            {"material": "can; DROP", "accepted": 3},
            {"material": "PET", "accepted": 3},
            {"material": "pet", "accepted": True},
            {"material": "pet", "accepted": 10**30},
            "x",
        ],
    }
    assert totals.credited_by_material(detail) == (("pet", 5),)
    assert totals.credited_by_material({"items_credited": "many", "items": []}) == ()


def _entry(kind: str, points: int, citizen: str = "c-1", n: int = 0) -> LedgerEntry:
    detail = {"items": [{"material": "can", "accepted": 2}], "items_credited": 2}
    return LedgerEntry(citizen, f"{n:012d}", kind, points, 0, NOW, f"k{n}", detail)


def test_payouts_move_points_from_held_to_pending_and_settlement_to_paid() -> None:
    entries = [
        _entry("recycling", 3000, n=1),
        _entry("payout", -3000, n=2),
        _entry("payout_reversal", 1000, n=3),
    ]
    row = totals.summed([totals.counted(e) for e in entries])[totals.ALL_TIME]
    stats = totals.Totals(
        "all", row.points_issued, row.points_paid, row.items_recycled, row.entries,
        points_settled=2000,
    )  # fmt: skip
    assert (stats.points_issued, stats.points_held, stats.points_pending) == (3000, 1000, 0)
    assert stats.points_issued == stats.points_settled + stats.points_held + stats.points_pending
    assert row.materials == (("can", 2),)


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)), min_size=1, max_size=400))
def test_chunks_fit_a_transaction_and_keep_every_entry(keys: list[tuple[int, int]]) -> None:
    entries = []
    for n, (citizen, day) in enumerate(keys):
        e = _entry("recycling", 10, f"c-{citizen}", n)
        e = LedgerEntry(**{**e.__dict__, "created_at": NOW.replace(day=1 + day)})
        entries.append(totals.counted(e))
    groups = totals.chunks(entries, 100)
    assert [e for g in groups for e in g] == entries
    assert all(totals.rows_touched(g) <= 100 for g in groups)


def test_steps_count_only_increases() -> None:
    rows = totals.steps_increase([("2026-11-25", 0, 4000), ("2026-11-25", 4000, 3000),
                                  ("2026-11-24", 100, 900)])  # fmt: skip
    assert rows == {"steps#all": 4800, "steps#day#2026-11-25": 4000, "steps#day#2026-11-24": 800}


def test_the_reconciliation_names_each_figure_that_disagrees() -> None:
    audited = {"points_issued": 10, "points_held": 4, "points_paid": 5, "points_pending": 1}
    same = totals.Totals("all", 10, 6, points_settled=5)
    assert totals.reconciled(audited, same)["stats_match"] is True
    off = totals.Totals("all", 12, 6, points_settled=5)
    found = totals.reconciled(audited, off)
    assert found["stats_match"] is False
    assert found["stats_mismatches"] == {
        "points_issued": {"stats": 12, "audit": 10},
        "points_held": {"stats": 6, "audit": 4},
    }


def test_the_report_csv_is_sorted_has_a_bom_and_defuses_formulas() -> None:
    rows = [
        CitizenMonthItems("z-9", {"pet": 2}, "naeoe-dong"),
        CitizenMonthItems("=cmd|' /C calc'!A0", {"can": 1}, "=1+2"),
        CitizenMonthItems("a-1", {"can": 3, "glass": 1}),
    ]
    body = reports.report_csv("2026-11", rows, reports.materials_of(rows, ["can", "pet"]))
    assert body.startswith("\ufeff".encode())
    assert b"\r\n" in body
    parsed = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert parsed[0] == ["month", "citizen_id", "district", "can", "glass", "pet", "items_total"]
    assert [r[1:3] for r in parsed[1:]] == [
        ["'=cmd|' /C calc'!A0", "'=1+2"], ["a-1", ""], ["z-9", "naeoe-dong"],
    ]  # fmt: skip
    assert parsed[2] == ["2026-11", "a-1", "", "3", "1", "0", "4"]
    assert reports.report_csv("2026-11", list(reversed(rows)), ["can", "glass", "pet"]) == body


def test_the_totals_by_district_add_up_to_the_rows() -> None:
    rows = [
        CitizenMonthItems("a", {"can": 3, "pet": 1}, "naeoe-dong"),
        CitizenMonthItems("b", {"pet": 2}, "naeoe-dong"),
        CitizenMonthItems("c", {"glass": 5}, "jinyeong-eup"),
        CitizenMonthItems("d", {"can": 1}),  # counted before rows carried a district
    ]
    found = reports.totals_by_district(rows)
    assert [(d.district, d.citizens, d.items, d.total) for d in found] == [
        ("jinyeong-eup", 1, {"glass": 5}, 5),
        ("naeoe-dong", 2, {"can": 3, "pet": 3}, 6),
        ("unknown", 1, {"can": 1}, 1),
    ]
    assert sum(d.total for d in found) == sum(r.total for r in rows)


class _Months:
    def __init__(self, rows: dict[str, list[CitizenMonthItems]]) -> None:
        self.rows = rows
        self.read: list[str] = []

    def month_rows(self, shard: str) -> Iterator[CitizenMonthItems]:
        self.read.append(shard)
        yield from self.rows.get(shard, [])


class _Exports:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        assert content_type.startswith("text/csv")
        self.objects[key] = body


def test_the_report_service_reads_every_partition_and_rewrites_the_same_file() -> None:
    # GIVEN a month's rows on two of its partitions, one citizen with nothing left
    months = _Months({
        totals.month_shard("2026-11", "b"): [CitizenMonthItems("b", {"pet": 2})],
        totals.month_shard("2026-11", "a"): [CitizenMonthItems("a", {"can": 5}),
                                             CitizenMonthItems("zero", {"can": 0})],
    })  # fmt: skip
    exports = _Exports()
    service = ReportService(months, exports, ["can", "pet"])
    # WHEN the report is written twice
    first = service.recycling_report("2026-11")
    body = exports.objects[first.key]
    second = service.recycling_report("2026-11")
    # THEN every partition was read, the same key holds the same bytes
    assert sorted(set(months.read)) == totals.month_shards("2026-11")
    assert (first.key, first.citizens, dict(first.items)) == (
        "recycling-reports/2026-11/citizens.csv", 2, {"can": 5, "pet": 2},
    )  # fmt: skip
    assert second == first and exports.objects[first.key] == body
