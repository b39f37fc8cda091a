"""Payout runs (DESIGN §4): a month's run fanned out in chunks (chalicelib.services.chunk_jobs)
that pay each eligible citizen with an account, the transfer file, and settlement.

Every money movement is a ledger posting (a run's debit with its payout item, a failed
transfer's credit back with its item's new status), exactly once by its guard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chalicelib import config
from chalicelib.domain.clock import Clock
from chalicelib.domain.ledger import Account, AlreadyPosted, EffectRefused, PostedResult, Posting
from chalicelib.domain.payout_accounts import StoredPayoutAccount, encryption_context
from chalicelib.domain.payout_runs import (
    ChunkTally,
    PayoutItem,
    Period,
    RunPage,
    RunSummary,
    SkippedPage,
    SkipReason,
    approval_step,
    check_approved,
    check_closed,
    judge_settlement,
    payout_posting,
    reversal_posting,
    run_id_for,
    settle_item_action,
    settle_step,
)
from chalicelib.domain.roles import check_not_own, check_second_person
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.domain.transfer_files import (
    TRANSFER_FORMATS,
    TransferRow,
    memo_for,
    transfer_csv,
    transfer_xlsx,
)
from chalicelib.errors import Conflict, DomainError, NotFound, RetryableConflict, Unprocessable
from chalicelib.services.chunk_jobs import ChunkQueue, ChunkRef, ChunkStore
from chalicelib.services.payout_accounts import Secrets

PAYOUT_BUCKETS = 16
PAYOUT_PAGE = 98
"""Citizens per payout chunk: one BatchGetItem round (accounts, payout accounts, items) of
at most 100 keys each, and ~100 postings, well inside a 30 s Lambda even on moto. 98 so
that the chunk's count (the chunk, the run and one row per citizen skipped) fits one
TransactWriteItems of 100 items."""
SETTLE_LIMIT = 1000
PAID_BATCH = 48
"""Paid items per settlement transaction: each item and its action-log entry, the run's
counters and the two settled-stats rows, 2 * 48 + 3 = 99 of TransactWriteItems' 100."""
POST_ATTEMPTS = 4


# Ports ------------------------------------------------------------------------------------


class ChunkMoved(Exception):
    """A chunk's payments changed since it was tallied (a duplicate paid meanwhile)."""


@dataclass(frozen=True)
class Payee:
    """A member of a payout chunk as read: the account, where to pay, this run's item."""

    account: Account | None
    paid_to: StoredPayoutAccount | None
    item: PayoutItem | None


class RunExists(Exception):
    def __init__(self, run: RunSummary) -> None:
        super().__init__(run.run_id)
        self.run = run


class SettlementConflict(Exception):
    """A settlement's condition failed: an item was settled otherwise meanwhile."""


class PayoutRunStore(Protocol):
    def create_run(self, run: RunSummary, action: StaffAction) -> None:
        """Create the run with its action-log entry, in one transaction. Raises RunExists
        (with the stored run) when the period has one (and writes nothing)."""
        ...

    def run(self, run_id: str) -> RunSummary | None: ...

    def all_runs(self) -> list[RunSummary]: ...

    def runs_page(self, limit: int, after: str | None) -> RunPage:
        """Runs newest period first, after the period `after`; the page's cursor is the
        last period read when more may follow."""
        ...

    def skipped_page(
        self, run_id: str, reason: SkipReason | None, limit: int, after: str | None
    ) -> SkippedPage:
        """The run's skipped citizens (of one reason, or all) in key order after the key
        `after` (`<reason>#<citizen_id>`); the cursor is the last key read."""
        ...

    def approve(self, run_id: str, action: StaffAction) -> bool:
        """`ready` -> `approved` by the action's person, with its entry, in one transaction;
        False (nothing written) when the run is no longer `ready`."""
        ...

    def record_export(self, run_id: str, fmt: str, sha256: str, action: StaffAction) -> None:
        """The served file's digest on the run and the export's entry, in one transaction."""
        ...

    def eligible_page(
        self, bucket: str, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """Citizen ids of the eligibility index's bucket after `start`, in order, and where
        the bucket goes on (None: this page is its last)."""
        ...

    def payees(
        self, run_id: str, citizen_ids: Sequence[str], *, with_items: bool
    ) -> dict[str, Payee]:
        """Each member's account and payout account (and this run's item, when a previous
        attempt may have paid some), read consistently."""
        ...

    def citizen_account(self, citizen_id: str) -> Account | None: ...

    def items(self, run_id: str, citizen_ids: Sequence[str]) -> dict[str, PayoutItem]: ...

    def run_items(self, run_id: str) -> Iterator[PayoutItem]: ...

    def count_payout_chunk(self, ref: ChunkRef, tally: ChunkTally, has_next: bool) -> bool:
        """Flip the chunk done and add to the run's counters, once, if the chunk's payments
        are still the tally's; False if counted before, ChunkMoved if it paid meanwhile."""
        ...

    def mark_ready(self, run_id: str, now: datetime) -> bool:
        """`running` -> `ready` if every expected chunk is counted."""
        ...

    def settle_paid(self, settled: Sequence[tuple[PayoutItem, StaffAction]], now: datetime) -> None:
        """Mark pending items paid (by their entry's actor), count them and write each
        item's action-log entry, all in one transaction, all or nothing (at most
        PAID_BATCH items); SettlementConflict if one is no longer pending."""
        ...

    def mark_settled(self, run_id: str, now: datetime) -> bool: ...


class Ledger(Protocol):
    def post(self, posting: Posting) -> PostedResult: ...


class Exports(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...


# The service --------------------------------------------------------------------------------


@dataclass
class SettleOutcome:
    run: RunSummary
    applied_paid: int = 0
    applied_failed: int = 0
    unchanged: int = 0


class PayoutRunService:
    def __init__(
        self,
        store: PayoutRunStore,
        chunks: ChunkStore,
        ledger: Ledger,
        queue: ChunkQueue,
        secrets: Secrets,
        exports: Exports,
        settings: config.Settings,
        clock: Clock,
        *,
        page: int = PAYOUT_PAGE,
    ) -> None:
        self._store = store
        self._chunks = chunks
        self._ledger = ledger
        self._queue = queue
        self._secrets = secrets
        self._exports = exports
        self._settings = settings
        self._clock = clock
        self._page = page

    def start_run(self, period: Period, by: Actor) -> RunSummary:
        """Create the period's run and fan its buckets out; RunExists (with the stored run)
        on a second start. A second start of a run still `running` sends its first chunks
        again: chunks are idempotent, so this resumes a run whose fan-out was cut short.
        Only a month that has ended may be run (422 `period_open`)."""
        now = self._clock()
        check_closed(period, now)
        run = RunSummary(
            run_id=run_id_for(period),
            period=str(period),
            status="running",
            started_at=now,
            started_by=by.person_id,
            chunks_expected=PAYOUT_BUCKETS,
            chunks_done=0,
            citizens=0,
            total_points=0,
            skipped_no_account=0,
            skipped_below_threshold=0,
        )
        action = new_action(
            by, "payout_run.start", _target(run.run_id), now, {"period": run.period}
        )
        try:
            self._store.create_run(run, action)
        except RunExists as e:
            if e.run.status == "running":
                self._fan_out(e.run.run_id)
            raise
        self._fan_out(run.run_id)
        return run

    def runs(self, limit: int, after: str | None) -> RunPage:
        return self._store.runs_page(limit, after)

    def skipped(
        self, run_id: str, reason: SkipReason | None, limit: int, after: str | None
    ) -> SkippedPage:
        run = self.run(run_id)
        return self._store.skipped_page(run.run_id, reason, limit, after)

    def approve(self, run_id: str, by: Actor) -> tuple[RunSummary, bool]:
        """A second person approves a `ready` run for export and settlement. Whoever started
        it by hand cannot (403 `same_person`; a scheduled run was started by the system). A
        repeat, or the loser of two approvals at once, answers the approved run as it is
        (False: nothing written); a run still paying is a 409 `run_not_ready`."""
        run = self.run(run_id)
        check_second_person(run.started_by, by.person_id, "a payout run")
        if approval_step(run) == "unchanged":
            return run, False
        now = self._clock()
        action = new_action(
            by,
            "payout_run.approve",
            _target(run_id),
            now,
            {"period": run.period, "citizens": run.citizens, "total_points": run.total_points},
        )
        applied = self._store.approve(run_id, action)
        current = self.run(run_id)
        if not applied:
            approval_step(current)  # raced: approved by another (or no longer ready)
        return current, applied

    def _fan_out(self, run_id: str) -> None:
        self._queue.send([ChunkRef("payout", run_id, f"{b:02d}") for b in range(PAYOUT_BUCKETS)])

    def run(self, run_id: str) -> RunSummary:
        found = self._store.run(run_id) if _plausible_id(run_id) else None
        if found is None:
            raise NotFound("no such payout run", code="run_not_found")
        return found

    def pay_chunk(self, ref: ChunkRef) -> None:
        """Pay one page of one bucket, count it once, and hand on the next page."""
        run = self._store.run(ref.job_id)
        if run is None:
            raise LookupError(f"no run {ref.job_id}")  # a bug upstream: let it reach the DLQ
        chunk = self._chunks.chunk(ref)
        fresh = False
        if chunk is None and run.status != "running":
            return  # a stray chunk of a finished run: its pages were all counted already
        if chunk is None:
            members, next_start = self._store.eligible_page(ref.part, ref.start, self._page)
            chunk, fresh = self._chunks.fix_chunk(ref, members, next_start)
        if not chunk.done:
            for attempt in range(POST_ATTEMPTS):
                tally = self._pay_members(
                    run, ref, chunk.members, maybe_paid=attempt > 0 or not fresh
                )
                try:
                    self._store.count_payout_chunk(ref, tally, chunk.next_start is not None)
                    break
                except ChunkMoved:
                    continue  # a duplicate paid someone since: tally again from the items
            else:
                raise RetryableConflict(f"chunk {ref.key} keeps moving")
        if chunk.next_start is not None:
            self._queue.send([ChunkRef("payout", ref.job_id, ref.part, chunk.next_start)])
        self._store.mark_ready(ref.job_id, self._clock())

    def _pay_members(
        self, run: RunSummary, ref: ChunkRef, members: Sequence[str], *, maybe_paid: bool
    ) -> ChunkTally:
        """A first attempt need not look for this run's items (a concurrent duplicate is
        caught by the posting's guard); a retry must, to count what it paid before."""
        tally = ChunkTally()
        threshold = self._settings.payout_threshold
        payees = self._store.payees(run.run_id, members, with_items=maybe_paid)
        for citizen_id, payee in payees.items():
            if payee.item is not None:
                tally.paid(payee.item.amount)
                continue
            if payee.paid_to is None:
                tally.skip(citizen_id, "no_account")
                continue
            account = payee.account
            for _attempt in range(POST_ATTEMPTS):
                if account is None or account.balance < threshold:
                    tally.skip(citizen_id, "below_threshold")
                    break
                posting = payout_posting(
                    run.run_id, run.period, account, payee.paid_to, self._clock(),
                    chunk=(ref.job_id, ref.key),
                )  # fmt: skip
                try:
                    self._ledger.post(posting)
                except AlreadyPosted:
                    paid = self._store.items(run.run_id, [citizen_id]).get(citizen_id)
                    if paid is None:
                        raise
                    tally.paid(paid.amount)
                    break
                except EffectRefused:
                    return tally  # the chunk was counted meanwhile (a duplicate finished it)
                except RetryableConflict:
                    account = self._store.citizen_account(citizen_id)
                    continue
                tally.paid(posting.account.balance)
                break
            else:
                raise RetryableConflict(f"{citizen_id}: the balance kept moving")
        return tally

    # Export and settlement ------------------------------------------------------------------

    def export(self, run_id: str, by: Actor, fmt: str = "csv") -> bytes:
        """The transfer file in a format of TRANSFER_FORMATS: the CSV for systems or
        the spreadsheet for people, of an approved run only (409 `not_approved`). Both are
        built at once from one read of the run's items (numbers decrypted here and nowhere
        else), so they hold the same rows in the same order; each is kept in the exports
        bucket and served from there afterwards, so a repeat serves the same bytes. Every
        export records the file's SHA-256 on the run and in the action log, together."""
        if fmt not in TRANSFER_FORMATS:
            raise ValueError(f"unknown transfer format {fmt!r}")  # the route judged it
        run = self.run(run_id)
        check_approved(run, "export")
        key = export_key(run_id, fmt)
        body = self._exports.get(key)
        if body is None:
            body = self._build_exports(run)[fmt]
        digest = hashlib.sha256(body).hexdigest()
        action = new_action(
            by,
            "payout_run.export",
            _target(run_id),
            self._clock(),
            {"format": fmt, "key": key, "bytes": len(body), "sha256": digest},
        )
        self._store.record_export(run_id, fmt, digest, action)
        return body

    def _build_exports(self, run: RunSummary) -> dict[str, bytes]:
        """Every format's file from one read, each kept unless one is kept already (a file
        once served never changes)."""
        memo = memo_for(run.period)
        items = list(self._store.run_items(run.run_id))
        numbers = self._secrets.decrypt_many(
            [(i.account_ciphertext, encryption_context(i.citizen_id)) for i in items]
        )
        rows = [
            TransferRow(item.citizen_id, item.bank_code, number, item.holder, item.amount, memo)
            for item, number in zip(items, numbers, strict=True)
        ]
        built = {
            "csv": transfer_csv(rows),
            "xlsx": transfer_xlsx(rows, run.ready_at or run.started_at),
        }
        files: dict[str, bytes] = {}
        for fmt, body in built.items():
            key = export_key(run.run_id, fmt)
            kept = self._exports.get(key)
            if kept is None:
                self._exports.put(key, body, TRANSFER_FORMATS[fmt][0])
            files[fmt] = kept if kept is not None else body
        return files

    def settle(
        self, run_id: str, by: Actor, paid: Sequence[str], failed: Sequence[str]
    ) -> SettleOutcome:
        """Mark items paid or failed. Judged whole first (unknown citizens 422, an outcome
        opposite to a recorded one 409, nothing applied); then each pending item is settled
        once: paid items in transactions with the run's counters, each failed one by a
        reversal posting that credits the amount back, flips the item and counts it. Only an
        approved run is settled (409 `not_approved`). Each item settled carries its own
        action-log entry (`payout_run.settle_item`) in the transaction that settles it, so
        the item's `pending` condition refuses a replayed or raced entry with its write;
        a request that changes nothing writes nothing."""
        request = judge_settlement(paid, failed, SETTLE_LIMIT)
        # A settler's own item would let them mark their own transfer failed and have it
        # credited back on their word alone.
        check_not_own([*request.paid, *request.failed], by.person_id, "settle a payout of")
        run = self.run(run_id)
        check_approved(run, "settlement")
        wanted = [*((c, "paid") for c in request.paid), *((c, "failed") for c in request.failed)]
        items = self._store.items(run_id, [c for c, _ in wanted])
        unknown = [c for c, _ in wanted if c not in items]
        if unknown:
            raise Unprocessable(
                "these citizens were not paid by this run",
                code="unknown_citizens",
                details=[{"citizen_id": c} for c in unknown[:50]],
            )
        steps = {c: settle_step(items[c].status, w) for c, w in wanted}  # type: ignore[arg-type]
        conflicts = [c for c, step in steps.items() if step == "conflict"]
        if conflicts:
            raise _settlement_conflict(run_id, [(c, items[c].status) for c in conflicts])
        outcome = SettleOutcome(run, unchanged=sum(1 for s in steps.values() if s == "unchanged"))
        now = self._clock()
        to_pay = [
            (items[c], settle_item_action(by, items[c], "paid", now))
            for c in request.paid
            if steps[c] == "apply"
        ]
        for start in range(0, len(to_pay), PAID_BATCH):
            batch = to_pay[start : start + PAID_BATCH]
            try:
                self._store.settle_paid(batch, now)
            except SettlementConflict:
                for item, _ in batch:  # someone settled some meanwhile: one by one
                    outcome.applied_paid += self._settle_one_paid(item, by, now)
            else:
                outcome.applied_paid += len(batch)
        for citizen_id in request.failed:
            if steps[citizen_id] == "apply":
                outcome.applied_failed += self._reverse(items[citizen_id], by)
        # Always: a request cut short after its last item left the run `approved`; its
        # replay (nothing left to apply) finishes it.
        self._store.mark_settled(run_id, self._clock())
        outcome.run = self.run(run_id)
        return outcome

    def _settle_one_paid(self, item: PayoutItem, by: Actor, now: datetime) -> int:
        try:
            self._store.settle_paid([(item, settle_item_action(by, item, "paid", now))], now)
        except SettlementConflict:
            current = self._store.items(item.run_id, [item.citizen_id])[item.citizen_id]
            if current.status == "paid":
                return 0
            raise _settlement_conflict(item.run_id, [(item.citizen_id, current.status)]) from None
        return 1

    def _reverse(self, item: PayoutItem, by: Actor) -> int:
        """Credit a failed transfer back: once, whatever is repeated or raced, with its
        entry in the posting's transaction."""
        for _attempt in range(POST_ATTEMPTS):
            account = self._store.citizen_account(item.citizen_id)
            if account is None:
                raise LookupError(f"{item.citizen_id}: paid but not a citizen")
            at = self._clock()
            posting = reversal_posting(
                item.run_id, item.amount, account, by.person_id, at,
                settle_item_action(by, item, "failed", at),
            )  # fmt: skip
            try:
                self._ledger.post(posting)
            except AlreadyPosted:
                return 0
            except EffectRefused:
                current = self._store.items(item.run_id, [item.citizen_id])[item.citizen_id]
                if current.status == "failed":
                    return 0
                raise _settlement_conflict(
                    item.run_id, [(item.citizen_id, current.status)]
                ) from None
            except RetryableConflict:
                continue
            return 1
        raise RetryableConflict(f"{item.citizen_id}: the balance kept moving")


def _target(run_id: str) -> str:
    return f"run:{run_id}"


def export_key(run_id: str, fmt: str = "csv") -> str:
    return f"payout-runs/{run_id}/transfers.{TRANSFER_FORMATS[fmt][1]}"


def _plausible_id(run_id: str) -> bool:
    return 0 < len(run_id) <= 64 and run_id.isascii() and run_id.replace("-", "").isalnum()


def _settlement_conflict(run_id: str, items: list[tuple[str, str]]) -> DomainError:
    return Conflict(
        "these items were settled the other way already; nothing was changed",
        code="settlement_conflict",
        details=[{"citizen_id": c, "status": s} for c, s in items[:50]],
    )
