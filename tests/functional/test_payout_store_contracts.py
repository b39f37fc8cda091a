"""One contract, two implementations, for the payout stores: the in-memory fakes
(tests/fakes: payout_accounts, payout_runs, chunk_jobs, ledger_audit, effects, totals) and
their DynamoDB adapters (on moto) must behave alike, so the payout and audit services tested
on the fakes behave so on AWS."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import totals
from chalicelib.domain.citizens import ProfileChange
from chalicelib.domain.ledger import EffectRefused, LedgerEntry, Posting
from chalicelib.domain.ledger_audit import AuditTally, Discrepancy
from chalicelib.domain.payout_accounts import StoredPayoutAccount
from chalicelib.domain.payout_runs import (
    ChunkTally,
    PayoutRunCounted,
    PayoutSettled,
    RunSummary,
    payout_posting,
    reversal_posting,
    settle_item_action,
)
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.services.chunk_jobs import ChunkRef
from chalicelib.services.payout_runs import ChunkMoved, RunExists, SettlementConflict
from tests.fakes import (
    MemoryChunkJobs,
    MemoryCitizens,
    MemoryCity,
    MemoryLedger,
    MemoryLedgerAudit,
    MemoryPayoutAccounts,
    MemoryPayoutRuns,
    MemoryTotals,
    payout_bucket,
)

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
THRESHOLD = 100
RUN = "payout-2026-11"
_ACTIONS = iter(range(1_000_000))


def _action(verb: str, who: str = "fin-1") -> StaffAction:
    """A distinct entry each time (ids sort by time: a millisecond apart)."""
    from datetime import timedelta

    at = NOW + timedelta(milliseconds=next(_ACTIONS))
    return new_action(Actor(who, ("finance",)), f"payout_run.{verb}", f"run:{RUN}", at)


@dataclass
class Stores:
    citizens: Any
    ledger: Any
    accounts: Any
    runs: Any
    chunks: Any
    audits: Any
    totals: Any


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    if request.param == "memory":
        city = MemoryCity()
        accounts = MemoryPayoutAccounts()
        yield Stores(
            MemoryCitizens(city),
            MemoryLedger(city, THRESHOLD),
            accounts,
            MemoryPayoutRuns(city, accounts),
            MemoryChunkJobs(city),
            MemoryLedgerAudit(city),
            MemoryTotals(),
        )
        return
    request.getfixturevalue("aws")
    from chalicelib.adapters.dynamodb_chunk_jobs import DynamoDbChunkJobs
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.adapters.dynamodb_ledger import DynamoDbLedger
    from chalicelib.adapters.dynamodb_ledger_audit import DynamoDbLedgerAudit
    from chalicelib.adapters.dynamodb_payout_accounts import DynamoDbPayoutAccounts
    from chalicelib.adapters.dynamodb_payout_runs import DynamoDbPayoutRuns
    from chalicelib.adapters.dynamodb_totals import DynamoDbCityTotals

    yield Stores(
        DynamoDbCitizens(),
        DynamoDbLedger(THRESHOLD),
        DynamoDbPayoutAccounts(),
        DynamoDbPayoutRuns(),
        DynamoDbChunkJobs(),
        DynamoDbLedgerAudit(),
        DynamoDbCityTotals(lambda: NOW),
    )


def _account(citizen_id: str) -> StoredPayoutAccount:
    return StoredPayoutAccount(citizen_id, "088", "sealed-" + citizen_id, "6789", "Kim", NOW)


def _citizen(stores: Stores, citizen_id: str, points: int, *, account: bool = True) -> None:
    stores.citizens.save_profile(citizen_id, ProfileChange("Kim", "naeoe-dong"), NOW)
    if points:
        held = stores.citizens.get(citizen_id).account
        stores.ledger.post(Posting(f"seed-{citizen_id}", held, points, "recycling", {}, NOW))
    if account:
        stores.accounts.save_account(_account(citizen_id))


def _run(run_id: str = RUN, status: str = "running") -> RunSummary:
    return RunSummary(run_id, run_id[-7:], status, NOW, "admin", 16, 0, 0, 0, 0, 0)  # type: ignore[arg-type]


def _pay(stores: Stores, citizen_id: str, ref: ChunkRef | None = None) -> int:
    payee = stores.runs.payees(RUN, [citizen_id], with_items=False)[citizen_id]
    chunk = (ref.job_id, ref.key) if ref else None
    posting = payout_posting(RUN, "2026-11", payee.account, payee.paid_to, NOW, chunk)
    stores.ledger.post(posting)
    return int(posting.account.balance)


# Payout accounts ----------------------------------------------------------------------------


def test_a_payout_account_is_kept_as_saved_and_replaced_whole(stores: Stores) -> None:
    assert stores.accounts.account("c-1") is None
    stores.accounts.save_account(_account("c-1"))
    assert stores.accounts.account("c-1") == _account("c-1")
    changed = dataclasses.replace(_account("c-1"), bank_code="004", holder="Lee")
    stores.accounts.save_account(changed)
    assert stores.accounts.account("c-1") == changed


# Chunks -------------------------------------------------------------------------------------


def test_a_chunk_keeps_its_first_page(stores: Stores) -> None:
    ref = ChunkRef("payout", RUN, "03")
    assert stores.chunks.chunk(ref) is None
    kept, fresh = stores.chunks.fix_chunk(ref, ["a", "b"], "b")
    assert fresh and (kept.members, kept.next_start, kept.done, kept.paid) == (
        ("a", "b"), "b", False, 0,
    )  # fmt: skip
    again, fresh = stores.chunks.fix_chunk(ref, ["c"], None)
    assert not fresh and again == kept
    assert stores.chunks.chunk(ref) == kept


# Runs ---------------------------------------------------------------------------------------


def test_a_run_is_created_once_per_period(stores: Stores) -> None:
    assert stores.runs.run(RUN) is None
    stores.runs.create_run(_run(), _action("start"))
    assert stores.runs.run(RUN) == _run()
    with pytest.raises(RunExists) as raised:
        stores.runs.create_run(dataclasses.replace(_run(), started_by="schedule"), _action("start"))
    assert raised.value.run == _run()
    assert stores.runs.all_runs() == [_run()]


def test_runs_are_paged_newest_first(stores: Stores) -> None:
    for period in ("2026-09", "2026-11", "2026-10"):
        run = dataclasses.replace(_run(), run_id=f"payout-{period}", period=period)
        stores.runs.create_run(run, _action("start"))
    first = stores.runs.runs_page(2, None)
    assert [r.period for r in first.runs] == ["2026-11", "2026-10"]
    assert first.next_cursor == "2026-10"
    last = stores.runs.runs_page(2, first.next_cursor)
    assert ([r.period for r in last.runs], last.next_cursor) == (["2026-09"], None)
    assert stores.runs.runs_page(5, None).next_cursor is None


def test_an_approval_moves_a_ready_run_once(stores: Stores) -> None:
    stores.runs.create_run(dataclasses.replace(_run(), chunks_expected=0), _action("start"))
    assert stores.runs.approve(RUN, _action("approve", "fin-2")) is False  # still running
    assert stores.runs.mark_ready(RUN, NOW) is True
    approval = _action("approve", "fin-2")
    assert stores.runs.approve(RUN, approval) is True
    assert stores.runs.approve(RUN, _action("approve", "fin-3")) is False
    run = stores.runs.run(RUN)
    assert (run.status, run.approved_by, run.approved_at) == ("approved", "fin-2", approval.at)
    stores.runs.record_export(RUN, "csv", "a" * 64, _action("export"))
    stores.runs.record_export(RUN, "csv", "a" * 64, _action("export"))
    stores.runs.record_export(RUN, "xlsx", "b" * 64, _action("export"))
    assert stores.runs.run(RUN).exports == {"csv": "a" * 64, "xlsx": "b" * 64}


def test_the_eligible_page_walks_a_bucket_in_order(stores: Stores) -> None:
    ids = [f"e{n}" for n in range(40)]
    for c in ids:
        _citizen(stores, c, THRESHOLD, account=False)
    _citizen(stores, "poor", THRESHOLD - 1, account=False)
    bucket = max(
        {payout_bucket(c) for c in ids}, key=lambda b: sum(payout_bucket(c) == b for c in ids)
    )
    wanted = sorted(c for c in ids if payout_bucket(c) == bucket)
    assert len(wanted) >= 2
    first, more = stores.runs.eligible_page(bucket, None, 1)
    assert (first, more) == (wanted[:1], wanted[0])
    rest, end = stores.runs.eligible_page(bucket, more, 100)
    assert (rest, end) == (wanted[1:], None)


def test_payees_read_the_account_where_to_pay_and_the_item(stores: Stores) -> None:
    _citizen(stores, "p1", 150)
    _citizen(stores, "p2", 150, account=False)
    stores.runs.create_run(_run(), _action("start"))
    found = stores.runs.payees(RUN, ["p1", "p2", "nobody"], with_items=True)
    assert found["p1"].account.balance == 150 and found["p1"].paid_to == _account("p1")
    assert found["p2"].paid_to is None and found["nobody"].account is None
    assert found["p1"].item is None
    assert _pay(stores, "p1") == 150
    item = stores.runs.payees(RUN, ["p1"], with_items=True)["p1"].item
    assert (item.amount, item.status, item.bank_code, item.holder) == (150, "pending", "088", "Kim")
    assert stores.runs.payees(RUN, ["p1"], with_items=False)["p1"].item is None
    assert stores.runs.citizen_account("p1").balance == 0
    assert stores.runs.citizen_account("nobody") is None
    assert stores.runs.items(RUN, ["p1", "p2", "p1"]) == {"p1": item}
    assert list(stores.runs.run_items(RUN)) == [item]


def test_a_payout_chunk_counts_once_and_only_its_tallied_payments(stores: Stores) -> None:
    _citizen(stores, "k1", 120)
    stores.runs.create_run(_run(), _action("start"))
    ref = ChunkRef("payout", RUN, "07")
    stores.chunks.fix_chunk(ref, ["k1"], None)
    _pay(stores, "k1", ref)
    assert stores.chunks.chunk(ref).paid == 1
    with pytest.raises(ChunkMoved):
        stores.runs.count_payout_chunk(ref, ChunkTally(), True)
    tally = ChunkTally()
    tally.skip("z2", "no_account")
    tally.skip("z1", "no_account")
    tally.skip("z0", "below_threshold")
    tally.paid(120)
    assert stores.runs.count_payout_chunk(ref, tally, True) is True
    assert stores.runs.count_payout_chunk(ref, tally, True) is False
    listed = stores.runs.skipped_page(RUN, None, 10, None)
    assert [(s.citizen_id, s.reason) for s in listed.skipped] == [
        ("z0", "below_threshold"), ("z1", "no_account"), ("z2", "no_account"),
    ]  # fmt: skip
    first = stores.runs.skipped_page(RUN, "no_account", 1, None)
    assert ([s.citizen_id for s in first.skipped], first.next_cursor) == (["z1"], "no_account#z1")
    rest = stores.runs.skipped_page(RUN, "no_account", 1, first.next_cursor)
    assert [s.citizen_id for s in rest.skipped] == ["z2"]
    assert stores.runs.skipped_page("payout-1999-01", None, 10, None).skipped == []
    run = stores.runs.run(RUN)
    assert (run.chunks_done, run.chunks_expected, run.citizens, run.total_points) == (1, 17, 1, 120)
    assert (run.skipped_no_account, run.skipped_below_threshold) == (2, 1)
    assert stores.chunks.chunk(ref).done


def test_a_run_is_ready_when_every_chunk_is_counted(stores: Stores) -> None:
    stores.runs.create_run(dataclasses.replace(_run(), chunks_expected=1), _action("start"))
    assert stores.runs.mark_ready(RUN, NOW) is False
    ref = ChunkRef("payout", RUN, "00")
    stores.chunks.fix_chunk(ref, [], None)
    assert stores.runs.count_payout_chunk(ref, ChunkTally(), False) is True
    assert stores.runs.mark_ready(RUN, NOW) is True
    assert stores.runs.mark_ready(RUN, NOW) is False
    run = stores.runs.run(RUN)
    assert (run.status, run.ready_at) == ("ready", NOW)


def _ready_run_paying(stores: Stores, *citizens: str) -> None:
    for c in citizens:
        _citizen(stores, c, 200)
    stores.runs.create_run(dataclasses.replace(_run(), chunks_expected=1), _action("start"))
    ref = ChunkRef("payout", RUN, "00")
    stores.chunks.fix_chunk(ref, list(citizens), None)
    tally = ChunkTally()
    for c in citizens:
        tally.paid(_pay(stores, c, ref))
    stores.runs.count_payout_chunk(ref, tally, False)
    stores.runs.mark_ready(RUN, NOW)


def _settled_entries(stores: Stores) -> list[tuple[str, str, str, int]]:
    """The run's `payout_run.settle_item` entries: (actor, citizen, outcome, amount)."""
    if isinstance(stores.runs, MemoryPayoutRuns):
        logged = list(stores.runs.actions)
    else:
        from chalicelib.adapters.dynamodb_staff_actions import DynamoDbStaffActions
        from chalicelib.domain.staff_actions import ActionFilter

        logged = DynamoDbStaffActions.page(ActionFilter(target=f"run:{RUN}"), 100).actions
    return sorted(
        (a.actor, a.detail["citizen_id"], a.detail["outcome"], int(a.detail["amount"]))
        for a in logged
        if a.action == "payout_run.settle_item"
    )


def test_settling_paid_items_is_all_or_nothing_and_settles_the_run(stores: Stores) -> None:
    _ready_run_paying(stores, "s1", "s2", "s3")
    assert stores.runs.approve(RUN, _action("approve", "fin-2")) is True
    items = stores.runs.items(RUN, ["s1", "s2", "s3"])
    ops = Actor("ops", ("finance",))
    stores.runs.settle_paid(
        [(items[c], settle_item_action(ops, items[c], "paid", NOW)) for c in ("s1", "s2")], NOW
    )
    with pytest.raises(SettlementConflict):  # s2 is paid: s3 and both entries are refused
        stores.runs.settle_paid(
            [(items[c], settle_item_action(ops, items[c], "paid", NOW)) for c in ("s2", "s3")],
            NOW,
        )
    assert stores.runs.items(RUN, ["s3"])["s3"].status == "pending"
    assert stores.runs.mark_settled(RUN, NOW) is False
    account = stores.runs.citizen_account("s3")
    failed = settle_item_action(ops, items["s3"], "failed", NOW)
    stores.ledger.post(reversal_posting(RUN, 200, account, "ops", NOW, failed))
    assert stores.runs.mark_settled(RUN, NOW) is True
    run = stores.runs.run(RUN)
    assert (run.status, run.paid_items, run.paid_points) == ("settled", 2, 400)
    assert (run.failed_items, run.failed_points, run.pending_items) == (1, 200, 0)
    settled = stores.runs.items(RUN, ["s1", "s3"])
    assert (settled["s1"].status, settled["s1"].settled_by) == ("paid", "ops")
    assert (settled["s3"].status, settled["s3"].settled_at) == ("failed", NOW)
    assert _settled_entries(stores) == [
        ("ops", "s1", "paid", 200), ("ops", "s2", "paid", 200), ("ops", "s3", "failed", 200)
    ]  # fmt: skip


# Effects a payout posting carries -------------------------------------------------------------


def test_payout_effects_hold_their_conditions(stores: Stores) -> None:
    _ready_run_paying(stores, "f1")
    _citizen(stores, "f2", 300)
    account = stores.runs.citizen_account("f2")
    refused = [
        PayoutSettled(RUN, "f2", "failed", "ops"),  # no item to settle
        PayoutRunCounted("payout-1999-01", failed_items=1),  # no such run
    ]
    for effect in refused:
        posting = Posting(f"x-{effect}", account, 1, "correction", {}, NOW, effects=(effect,))
        with pytest.raises(EffectRefused):
            stores.ledger.post(posting)
    # A citizen is paid once per run, whatever the guard.
    f1 = stores.runs.citizen_account("f1")
    stores.ledger.post(Posting("topup", f1, 150, "recycling", {}, NOW))
    f1 = stores.runs.citizen_account("f1")
    again = payout_posting(RUN, "2026-11", f1, _account("f1"), NOW)
    with pytest.raises(EffectRefused):
        stores.ledger.post(dataclasses.replace(again, guard_key="another-guard"))
    # A counted chunk takes no more payments.
    with pytest.raises(EffectRefused):
        stores.ledger.post(
            payout_posting(RUN, "2026-11", account, _account("f2"), NOW, (RUN, "00#"))
        )
    assert stores.runs.citizen_account("f2").balance == 300


# Audits -------------------------------------------------------------------------------------


def test_an_audit_counts_each_chunk_once_and_finishes_once(stores: Stores) -> None:
    assert stores.audits.latest_audit() is None
    stores.audits.create_audit("a-1", "ops", NOW, 1)
    stores.audits.create_audit("a-2", "ops", NOW, 1)
    assert stores.audits.latest_audit().audit_id == "a-2"
    assert stores.audits.audit("nope") is None
    assert stores.audits.finish_audit("a-2", {"balanced": True}, NOW) is False
    ref = ChunkRef("audit", "a-2", "0")
    stores.chunks.fix_chunk(ref, ["c"], None)
    found = Discrepancy("c", "balance_mismatch", 5, 4, "")
    tally = AuditTally(
        citizens_checked=1, points_issued=10, points_paid=3, points_held=5, points_forfeited=2,
        discrepancies=[found, dataclasses.replace(found, citizen_id="d")],
    )  # fmt: skip
    assert stores.audits.count_audit_chunk(ref, tally, False, 1) is True
    assert stores.audits.count_audit_chunk(ref, tally, False, 1) is False
    assert stores.audits.finish_audit("a-2", {"balanced": False, "difference": 2}, NOW) is True
    assert stores.audits.finish_audit("a-2", {"balanced": True}, NOW) is False
    done = stores.audits.audit("a-2")
    assert (done.status, done.chunks_done, done.chunks_expected, done.finished_at) == (
        "done", 1, 1, NOW,
    )  # fmt: skip
    assert (done.citizens_checked, done.points_issued, done.points_paid, done.points_held) == (
        1, 10, 3, 5,
    )  # fmt: skip
    assert done.points_forfeited == 2
    assert (done.discrepancy_count, done.discrepancies) == (2, [found])
    assert done.totals == {"balanced": False, "difference": 2}


def test_the_audit_reads_accounts_entries_and_every_citizen(stores: Stores) -> None:
    for n in range(6):
        _citizen(stores, f"a{n}", 10 * (n + 1), account=False)
    seen: list[str] = []
    for segment in range(4):
        start: str | None = None
        while True:
            page, start = stores.audits.scan_page(segment, 4, start, 1)
            seen += page
            if start is None:
                break
    assert sorted(seen) == [f"a{n}" for n in range(6)]
    read = stores.audits.audited(["a2", "nobody"])
    assert list(read) == ["a2"]
    assert (read["a2"].balance, read["a2"].lifetime_earned, read["a2"].lifetime_paid) == (
        30, 30, 0,
    )  # fmt: skip
    entries = stores.audits.entries("a2")
    assert [(e.kind, e.points, e.balance_after) for e in entries] == [("recycling", 30, 30)]
    assert stores.audits.entries("nobody") == []


# City totals --------------------------------------------------------------------------------


def test_the_city_totals_count_each_entry_once(stores: Stores) -> None:
    def entry(n: int, points: int, kind: str = "recycling") -> LedgerEntry:
        return LedgerEntry(f"t{n}", f"{n:012d}", kind, points, 100, NOW, f"g{n}", {})

    counted = [totals.counted(entry(1, 30)), totals.counted(entry(2, -20, "payout"))]
    assert stores.totals.add_once(counted) == 2
    assert stores.totals.add_once([*counted, totals.counted(entry(3, 5))]) == 1
    row = stores.totals.read((totals.ALL_TIME,))[totals.ALL_TIME]
    assert (row.points_issued, row.points_paid, row.entries) == (35, 20, 3)
