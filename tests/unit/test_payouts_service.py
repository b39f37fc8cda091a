"""The payout service on in-memory stores: accounts, runs in chunks, export, settlement and
the audit; and, as Hypothesis properties, invariants 2 and 3 and "never paid twice" under
any interleaving of credits, runs, re-runs, crashes, redelivered chunks and settlements."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.config import Settings
from chalicelib.domain.citizens import ProfileChange
from chalicelib.domain.clock import SEOUL
from chalicelib.domain.ledger import Posting
from chalicelib.domain.payout_runs import Period
from chalicelib.domain.staff_actions import SYSTEM, Actor
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.services.chunk_jobs import ChunkRef
from chalicelib.services.ledger_audit import LedgerAuditService
from chalicelib.services.payout_accounts import PayoutAccountService
from chalicelib.services.payout_runs import PayoutRunService, RunExists
from tests.fakes import (
    FakeSecrets,
    MemoryChunkJobs,
    MemoryChunkQueue,
    MemoryCitizens,
    MemoryCity,
    MemoryExports,
    MemoryLedger,
    MemoryLedgerAudit,
    MemoryPayoutAccounts,
    MemoryPayoutRuns,
)

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=SEOUL)
ADMIN = Actor("admin", ("finance",))
CHECKER = Actor("checker", ("finance",))


class Crash(Exception):
    """A function timed out or died mid-chunk."""


class CrashingLedger(MemoryLedger):
    """Dies before the n-th posting from now (once)."""

    crash_in: int | None = None

    def post(self, posting: Posting) -> Any:
        if self.crash_in is not None:
            self.crash_in -= 1
            if self.crash_in < 0:
                self.crash_in = None
                raise Crash()
        return super().post(posting)


class World:
    def __init__(self, page: int = 3) -> None:
        self.now = NOW
        self.city = MemoryCity()
        self.ledger = CrashingLedger(self.city, 2000)
        self.accounts = MemoryPayoutAccounts()
        self.store = MemoryPayoutRuns(self.city, self.accounts)
        self.chunks = MemoryChunkJobs(self.city)
        self.queue = MemoryChunkQueue()
        self.exports = MemoryExports()
        secrets = FakeSecrets()
        self.payout_accounts = PayoutAccountService(self.accounts, secrets, lambda: self.now)
        self.service = PayoutRunService(
            self.store, self.chunks, self.ledger, self.queue, secrets, self.exports,
            Settings(payout_threshold=2000), lambda: self.now, page=page,
        )  # fmt: skip
        self.audits = LedgerAuditService(
            MemoryLedgerAudit(self.city), self.chunks, self.store, self.queue,
            lambda: self.now, page=page,
        )  # fmt: skip
        self.citizens = MemoryCitizens(self.city)
        self.credits = 0

    def register(self, citizen_id: str, account: bool = True) -> None:
        self.citizens.save_profile(citizen_id, ProfileChange("n", "naeoe-dong"), NOW)
        if account:
            self.payout_accounts.set_account(citizen_id, "NH", "302-1234-5678-91", "김 민지")

    def credit(self, citizen_id: str, points: int) -> None:
        self.credits += 1
        account = self.city.citizens[citizen_id].account
        self.ledger.post(Posting(f"credit-{self.credits}", account, points, "recycling", {}, NOW))

    def deliver(self, index: int = 0, *, keep: bool = False) -> None:
        """Deliver one queued chunk; it leaves the queue only when handled (and not kept)."""
        ref: ChunkRef = self.queue.sent[index]
        if ref.job == "payout":
            self.service.pay_chunk(ref)
        else:
            self.audits.audit_chunk(ref)
        if not keep:
            self.queue.sent.remove(ref)

    def drain(self) -> None:
        while self.queue.sent:
            self.deliver()

    def audit(self) -> Any:
        from datetime import timedelta

        self.now += timedelta(seconds=1)  # audits sort by their start
        self.audits.start_audit("admin")
        self.drain()
        return self.audits.latest_audit()


def test_a_run_pays_exactly_the_eligible_citizens_with_an_account() -> None:
    w = World()
    for n in range(8):
        w.register(f"c{n}", account=n != 3)
        w.credit(f"c{n}", 2000 + n if n < 6 else 1999)
    run = w.service.start_run(Period(2026, 11), ADMIN)
    assert (run.run_id, run.status) == ("payout-2026-11", "running")
    w.drain()
    done = w.service.run(run.run_id)
    assert done.status == "ready"
    assert done.citizens == 5 and done.skipped_no_account == 1
    assert done.total_points == sum(2000 + n for n in (0, 1, 2, 4, 5))
    assert done.chunks_done == done.chunks_expected
    for n in (0, 1, 2, 4, 5):
        assert w.city.citizens[f"c{n}"].balance == 0
        assert w.city.citizens[f"c{n}"].lifetime_paid == 2000 + n
    assert w.city.citizens["c3"].balance == 2003 and w.city.citizens["c6"].balance == 1999


def test_a_second_start_for_the_period_is_refused_with_the_run() -> None:
    w = World()
    w.service.start_run(Period(2026, 11), ADMIN)
    with pytest.raises(RunExists) as raised:
        w.service.start_run(Period(2026, 11), SYSTEM)
    assert raised.value.run.run_id == "payout-2026-11"


def test_a_future_period_is_refused() -> None:
    with pytest.raises(Unprocessable):
        World().service.start_run(Period(2027, 1), ADMIN)


def test_export_lists_the_paid_with_numbers_decrypted_and_is_recorded() -> None:
    w = World()
    w.register("c1")
    w.credit("c1", 2500)
    w.service.start_run(Period(2026, 11), ADMIN)
    with pytest.raises(Conflict):
        w.service.export("payout-2026-11", ADMIN)  # still paying
    w.drain()
    with pytest.raises(Conflict):
        w.service.export("payout-2026-11", ADMIN)  # not approved
    w.service.approve("payout-2026-11", CHECKER)
    body = w.service.export("payout-2026-11", Actor("admin-7", ("admin",)))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[1] == ["c1", "011", "3021234567891", "김 민지", "2500", "김해포인트 2026-11"]
    exported = [a for a in w.store.actions if a.action == "payout_run.export"]
    assert [(a.actor, a.target) for a in exported] == [("admin-7", "run:payout-2026-11")]
    digest = hashlib.sha256(body).hexdigest()
    assert exported[0].detail["sha256"] == digest
    assert w.service.run("payout-2026-11").exports == {"csv": digest}


def test_a_failed_transfer_is_credited_back_once_and_cannot_turn_paid() -> None:
    w = World()
    for c in ("a", "b"):
        w.register(c)
        w.credit(c, 3000)
    w.service.start_run(Period(2026, 11), ADMIN)
    w.drain()
    with pytest.raises(Conflict):
        w.service.settle("payout-2026-11", ADMIN, ["a"], ["b"])  # not approved
    w.service.approve("payout-2026-11", CHECKER)
    first = w.service.settle("payout-2026-11", ADMIN, ["a"], ["b"])
    assert (first.applied_paid, first.applied_failed) == (1, 1)
    assert first.run.status == "settled"
    again = w.service.settle("payout-2026-11", ADMIN, ["a"], ["b"])
    assert (again.applied_paid, again.applied_failed, again.unchanged) == (0, 0, 2)
    assert w.city.citizens["b"].balance == 3000 and w.city.citizens["a"].balance == 0
    with pytest.raises(Conflict):
        w.service.settle("payout-2026-11", ADMIN, ["b"], [])
    with pytest.raises(Conflict):
        w.service.settle("payout-2026-11", ADMIN, [], ["a"])
    with pytest.raises(Unprocessable):
        w.service.settle("payout-2026-11", ADMIN, ["nobody"], [])
    with pytest.raises(NotFound):
        w.service.settle("payout-2099-01", ADMIN, ["a"], [])
    settled = [a for a in w.store.actions if a.action == "payout_run.settle_item"]
    assert [(a.actor, a.target, a.detail) for a in settled] == [
        ("admin", "run:payout-2026-11", {"citizen_id": "a", "outcome": "paid", "amount": 3000}),
        ("admin", "run:payout-2026-11", {"citizen_id": "b", "outcome": "failed", "amount": 3000}),
    ]  # one entry per item settled: the replay and the refused requests wrote none


def test_the_audit_is_clean_then_finds_a_corrupted_balance() -> None:
    w = World()
    for n in range(7):
        w.register(f"c{n}")
        w.credit(f"c{n}", 1000 * n + 500)
    w.service.start_run(Period(2026, 11), ADMIN)
    w.drain()
    clean = w.audit()
    assert clean.status == "done" and clean.citizens_checked == 7
    assert clean.discrepancy_count == 0 and clean.totals["balanced"] is True
    import dataclasses

    w.city.citizens["c2"] = dataclasses.replace(w.city.citizens["c2"], balance=123)
    found = w.audit()
    assert found.discrepancy_count == 1
    assert (found.discrepancies[0].citizen_id, found.discrepancies[0].balance) == ("c2", 123)
    assert found.totals["balanced"] is False


# Properties ---------------------------------------------------------------------------------

CITIZENS = [f"p{n}" for n in range(6)]
PERIODS = [Period(2026, 9), Period(2026, 10), Period(2026, 11)]

operation = st.one_of(
    st.tuples(st.just("credit"), st.sampled_from(CITIZENS), st.integers(1, 3000)),
    st.tuples(st.just("credit"), st.sampled_from(CITIZENS), st.integers(1000, 2500)),
    st.tuples(st.just("start"), st.sampled_from(PERIODS), st.none()),
    st.tuples(st.just("deliver"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("deliver"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("crash"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("settle"), st.sampled_from(PERIODS), st.lists(st.booleans(), max_size=6)),
    st.tuples(st.just("settle"), st.sampled_from(PERIODS), st.lists(st.booleans(), max_size=6)),
    st.tuples(st.just("cut"), st.sampled_from(PERIODS), st.lists(st.booleans(), max_size=6)),
    st.tuples(st.just("drain"), st.none(), st.none()),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(operation, min_size=10, max_size=80),
    accounts=st.lists(st.booleans(), min_size=6).filter(lambda a: sum(a[:6]) >= 3),
)
def test_any_interleaving_keeps_the_invariants_and_never_pays_twice(
    ops: list[tuple[str, Any, Any]], accounts: list[bool]
) -> None:
    w = World(page=2)
    for citizen, has_account in zip(CITIZENS, accounts, strict=False):
        w.register(citizen, account=has_account)
    for op, a, b in ops:
        if op == "credit":
            w.credit(a, b)
        elif op == "start":
            with contextlib.suppress(RunExists):
                w.service.start_run(a, ADMIN)
        elif op == "drain":
            w.drain()
        elif op in ("deliver", "crash") and w.queue.sent:
            index = a % len(w.queue.sent)
            if op == "crash":
                w.ledger.crash_in = b
            with contextlib.suppress(Crash):  # a crashed chunk stays queued: SQS redelivers
                w.deliver(index, keep=op == "deliver" and b)
            w.ledger.crash_in = None
        elif op in ("settle", "cut"):
            run = w.store.run(f"payout-{a}")
            if run is None or run.status == "running":
                continue
            w.service.approve(run.run_id, CHECKER)
            items = sorted(i.citizen_id for i in w.store.run_items(run.run_id))
            picked = [(c, ok) for c, ok in zip(items, b, strict=False)]
            if op == "cut":  # the request dies before its first or second credit-back
                w.ledger.crash_in = len(picked) % 2
            with contextlib.suppress(Conflict, Unprocessable, Crash):
                w.service.settle(
                    run.run_id, ADMIN, [c for c, ok in picked if ok],
                    [c for c, ok in picked if not ok],
                )  # fmt: skip
            w.ledger.crash_in = None
    w.drain()
    _assert_invariants(w)


def _assert_invariants(w: World) -> None:
    issued = held = ledger_paid = 0
    for citizen_id, citizen in w.city.citizens.items():
        entries = w.city.entries.get(citizen_id, [])
        # invariant 2
        assert citizen.balance == sum(e.points for e in entries) >= 0
        assert all(e.balance_after >= 0 for e in entries)
        # never paid twice, never credited back twice
        guards = Counter(e.source_key for e in entries)
        assert all(n == 1 for n in guards.values())
        per_run = Counter(
            (e.kind, e.detail.get("run_id")) for e in entries if e.kind.startswith("payout")
        )
        assert all(n == 1 for n in per_run.values())
        issued += citizen.lifetime_earned
        held += citizen.balance
        ledger_paid += citizen.lifetime_paid
    # every run finished, its counters equal its items
    for run in w.store.all_runs():
        assert run.status in ("ready", "approved", "settled")
        items = list(w.store.run_items(run.run_id))
        assert run.citizens == len(items)
        assert run.total_points == sum(i.amount for i in items)
        assert run.failed_points == sum(i.amount for i in items if i.status == "failed")
        assert run.paid_points == sum(i.amount for i in items if i.status == "paid")
        # one action-log entry per item settled, naming its outcome and amount
        logged = Counter(
            (a.detail["citizen_id"], a.detail["outcome"], a.detail["amount"])
            for a in w.store.actions
            if a.action == "payout_run.settle_item" and a.target == f"run:{run.run_id}"
        )
        assert logged == Counter(
            (i.citizen_id, i.status, i.amount) for i in items if i.status != "pending"
        )
    # invariant 3, and the audit agrees
    runs = w.store.all_runs()
    paid = sum(r.paid_points for r in runs)
    pending = sum(r.pending_points for r in runs)
    assert issued == paid + held + pending
    assert ledger_paid == paid + pending
    audit = w.audit()
    assert audit.discrepancy_count == 0
    assert audit.citizens_checked == len(w.city.citizens)
    assert audit.totals is not None and audit.totals["balanced"] is True


@pytest.mark.parametrize("duplicate_counts_first", [False, True])
def test_a_duplicate_chunk_paying_meanwhile_is_never_left_uncounted(
    duplicate_counts_first: bool,
) -> None:
    # GIVEN an eligible citizen without an account, whose chunk is being tallied
    w = World()
    w.register("x", account=False)
    w.credit("x", 2500)
    w.service.start_run(Period(2026, 11), ADMIN)
    ref = next(r for r in w.queue.sent if w.store.eligible_page(r.part, None, 3)[0] == ["x"])
    original = w.store.count_payout_chunk
    raced = False

    def racing(chunk: ChunkRef, tally: Any, has_next: bool) -> bool:
        nonlocal raced
        if chunk == ref and not raced:
            raced = True
            # WHEN, between the tally (x skipped) and its count, x gives an account and a
            # duplicate delivery of the same chunk pays x (and maybe counts first)
            w.payout_accounts.set_account("x", "KB", "1234567890", "Kim")
            if duplicate_counts_first:
                w.service.pay_chunk(chunk)
            else:
                run = w.store.run(chunk.job_id)
                members = w.chunks.chunk(chunk).members
                w.service._pay_members(run, chunk, members, maybe_paid=True)
        return original(chunk, tally, has_next)

    w.store.count_payout_chunk = racing  # type: ignore[method-assign]
    w.drain()
    # THEN x is paid once and the run counts exactly that payment
    run = w.service.run("payout-2026-11")
    items = list(w.store.run_items(run.run_id))
    assert raced and run.status == "ready"
    assert (run.citizens, run.total_points, len(items)) == (1, 2500, 1)
    assert run.skipped_no_account == 0


# Finance controls (DESIGN §4b) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "now"),
    [
        (Period(2026, 12), NOW),  # the month under way
        (Period(2027, 1), NOW),  # a future month
        # 23:59 on 30 November in Seoul is still November (it is 14:59 UTC)
        (Period(2026, 11), datetime(2026, 11, 30, 23, 59, tzinfo=SEOUL)),
    ],
)
def test_a_month_not_ended_in_seoul_is_period_open(period: Period, now: datetime) -> None:
    w = World()
    w.now = now
    with pytest.raises(Unprocessable) as raised:
        w.service.start_run(period, ADMIN)
    assert raised.value.code == "period_open"
    assert w.store.run(f"payout-{period}") is None and w.store.actions == []


def test_the_first_minute_of_a_month_closes_the_last_one() -> None:
    w = World()
    w.now = datetime(2026, 12, 1, 0, 0, tzinfo=SEOUL)  # 15:00 UTC on 30 November
    assert w.service.start_run(Period(2026, 11), SYSTEM).started_by == "system"


def test_approval_needs_a_ready_run_and_a_second_person() -> None:
    w = World()
    w.register("c1")
    w.credit("c1", 2500)
    w.service.start_run(Period(2026, 11), ADMIN)
    with pytest.raises(Conflict) as not_ready:
        w.service.approve("payout-2026-11", CHECKER)  # still paying
    assert not_ready.value.code == "run_not_ready"
    w.drain()
    with pytest.raises(Forbidden) as same:
        w.service.approve("payout-2026-11", Actor("admin", ("admin",)))  # the starter
    assert same.value.code == "same_person"
    run, applied = w.service.approve("payout-2026-11", CHECKER)
    assert applied and (run.status, run.approved_by) == ("approved", "checker")
    again, applied = w.service.approve("payout-2026-11", Actor("other", ("finance",)))
    assert not applied and (again.status, again.approved_by) == ("approved", "checker")
    approvals = [a for a in w.store.actions if a.action == "payout_run.approve"]
    assert [(a.actor, a.target) for a in approvals] == [("checker", "run:payout-2026-11")]
    with pytest.raises(NotFound):
        w.service.approve("payout-2099-01", CHECKER)


def test_a_scheduled_run_may_be_approved_by_any_finance_person() -> None:
    w = World()
    w.service.start_run(Period(2026, 11), SYSTEM)
    w.drain()
    run, applied = w.service.approve("payout-2026-11", ADMIN)
    assert applied and run.status == "approved"
    starts = [a for a in w.store.actions if a.action == "payout_run.start"]
    assert [(a.actor, a.roles) for a in starts] == [("system", ())]


def test_the_skipped_are_recorded_once_with_their_reason_under_redelivery() -> None:
    w = World(page=2)
    for n in range(6):
        w.register(f"c{n}", account=n % 2 == 0)
        w.credit(f"c{n}", 2500)
    w.service.start_run(Period(2026, 11), ADMIN)
    while w.queue.sent:
        w.deliver(keep=True)  # every chunk delivered twice
        w.deliver()
    run = w.service.run("payout-2026-11")
    assert (run.citizens, run.skipped_no_account) == (3, 3)
    page = w.service.skipped("payout-2026-11", "no_account", 2, None)
    assert [s.citizen_id for s in page.skipped] == ["c1", "c3"] and page.next_cursor
    rest = w.service.skipped("payout-2026-11", "no_account", 2, page.next_cursor)
    assert [s.citizen_id for s in rest.skipped] == ["c5"] and rest.next_cursor is None
    assert w.service.skipped("payout-2026-11", "below_threshold", 10, None).skipped == []


def test_runs_are_listed_newest_first_in_pages() -> None:
    w = World()
    for month in (9, 10, 11):
        w.service.start_run(Period(2026, month), ADMIN)
    first = w.service.runs(2, None)
    assert [r.period for r in first.runs] == ["2026-11", "2026-10"]
    second = w.service.runs(2, first.next_cursor)
    assert [r.period for r in second.runs] == ["2026-09"] and second.next_cursor is None
