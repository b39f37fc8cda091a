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
from chalicelib.domain.clock import SEOUL, Clock
from chalicelib.domain.ledger import Account, AlreadyPosted, EffectRefused, PostedResult, Posting
from chalicelib.domain.payout_accounts import StoredPayoutAccount, encryption_context
from chalicelib.domain.payout_runs import (
    ChunkTally,
    PayoutItem,
    Period,
    RunSummary,
    judge_settlement,
    payout_posting,
    reversal_posting,
    run_id_for,
    settle_step,
)
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
PAYOUT_PAGE = 100
"""Citizens per payout chunk: one BatchGetItem round (accounts, payout accounts, items) of
at most 100 keys each, and ~100 postings, well inside a 30 s Lambda even on moto."""
SETTLE_LIMIT = 1000
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
    def create_run(self, run: RunSummary) -> None:
        """Raises RunExists (with the stored run) when the period has one."""
        ...

    def run(self, run_id: str) -> RunSummary | None: ...

    def all_runs(self) -> list[RunSummary]: ...

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

    def settle_paid(self, items: Sequence[PayoutItem], admin_id: str, now: datetime) -> None:
        """Mark pending items paid and count them, all or nothing; SettlementConflict if one
        is no longer pending."""
        ...

    def mark_settled(self, run_id: str, now: datetime) -> bool: ...

    def record_action(
        self, run_id: str, action: str, admin_id: str, now: datetime, detail: dict[str, object]
    ) -> None: ...


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

    def start_run(self, period: Period, started_by: str) -> RunSummary:
        """Create the period's run and fan its buckets out; RunExists (with the stored run)
        on a second start. A second start of a run still `running` sends its first chunks
        again: chunks are idempotent, so this resumes a run whose fan-out was cut short."""
        now = self._clock()
        current = Period.of(now.astimezone(SEOUL).date())
        if period > current:
            raise Unprocessable(
                "a run pays a month that has begun",
                code="period_in_future",
                details=[{"field": "period", "problem": f"after {current}"}],
            )
        run = RunSummary(
            run_id=run_id_for(period),
            period=str(period),
            status="running",
            started_at=now,
            started_by=started_by,
            chunks_expected=PAYOUT_BUCKETS,
            chunks_done=0,
            citizens=0,
            total_points=0,
            skipped_no_account=0,
            skipped_below_threshold=0,
        )
        try:
            self._store.create_run(run)
        except RunExists as e:
            if e.run.status == "running":
                self._fan_out(e.run.run_id)
            raise
        self._store.record_action(run.run_id, "start", started_by, now, {"period": run.period})
        self._fan_out(run.run_id)
        return run

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
                tally.no_account += 1
                continue
            account = payee.account
            for _attempt in range(POST_ATTEMPTS):
                if account is None or account.balance < threshold:
                    tally.below_threshold += 1
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

    def export(self, run_id: str, admin_id: str, fmt: str = "csv") -> bytes:
        """The transfer file in a format of TRANSFER_FORMATS: the CSV for systems or
        the spreadsheet for people. Both are built at once from one read of the run's items
        (numbers decrypted here and nowhere else), so they hold the same rows in the same
        order; each is kept in the exports bucket and served from there afterwards, so a
        repeat serves the same bytes."""
        if fmt not in TRANSFER_FORMATS:
            raise ValueError(f"unknown transfer format {fmt!r}")  # the route judged it
        run = self.run(run_id)
        if run.status == "running":
            raise Conflict(
                "the run is still paying; export it when ready",
                code="run_not_ready",
                details=[{"run_id": run_id, "status": run.status}],
            )
        key = export_key(run_id, fmt)
        body = self._exports.get(key)
        if body is None:
            body = self._build_exports(run)[fmt]
        self._store.record_action(
            run_id,
            "export",
            admin_id,
            self._clock(),
            {"key": key, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()},
        )
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
        self, run_id: str, admin_id: str, paid: Sequence[str], failed: Sequence[str]
    ) -> SettleOutcome:
        """Mark items paid or failed. Judged whole first (unknown citizens 422, an outcome
        opposite to a recorded one 409, nothing applied); then each pending item is settled
        once: paid items in transactions with the run's counters, each failed one by a
        reversal posting that credits the amount back, flips the item and counts it."""
        request = judge_settlement(paid, failed, SETTLE_LIMIT)
        run = self.run(run_id)
        if run.status == "running":
            raise Conflict(
                "the run is still paying", code="run_not_ready", details=[{"run_id": run_id}]
            )
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
        to_pay = [items[c] for c in request.paid if steps[c] == "apply"]
        for start in range(0, len(to_pay), 50):
            batch = to_pay[start : start + 50]
            try:
                self._store.settle_paid(batch, admin_id, now)
            except SettlementConflict:
                for item in batch:  # someone settled some meanwhile: one by one
                    outcome.applied_paid += self._settle_one_paid(item, admin_id, now)
            else:
                outcome.applied_paid += len(batch)
        for citizen_id in request.failed:
            if steps[citizen_id] == "apply":
                outcome.applied_failed += self._reverse(items[citizen_id], admin_id)
        self._store.record_action(
            run_id,
            "settle",
            admin_id,
            now,
            {
                "paid": len(request.paid),
                "failed": len(request.failed),
                "applied_paid": outcome.applied_paid,
                "applied_failed": outcome.applied_failed,
                "unchanged": outcome.unchanged,
            },
        )
        self._store.mark_settled(run_id, self._clock())
        outcome.run = self.run(run_id)
        return outcome

    def _settle_one_paid(self, item: PayoutItem, admin_id: str, now: datetime) -> int:
        try:
            self._store.settle_paid([item], admin_id, now)
        except SettlementConflict:
            current = self._store.items(item.run_id, [item.citizen_id])[item.citizen_id]
            if current.status == "paid":
                return 0
            raise _settlement_conflict(item.run_id, [(item.citizen_id, current.status)]) from None
        return 1

    def _reverse(self, item: PayoutItem, admin_id: str) -> int:
        """Credit a failed transfer back: once, whatever is repeated or raced."""
        for _attempt in range(POST_ATTEMPTS):
            account = self._store.citizen_account(item.citizen_id)
            if account is None:
                raise LookupError(f"{item.citizen_id}: paid but not a citizen")
            posting = reversal_posting(item.run_id, item.amount, account, admin_id, self._clock())
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
