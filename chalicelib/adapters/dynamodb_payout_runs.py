"""DynamoDB adapter for payout runs (chalicelib.services.payout_runs.PayoutRunStore).

Requests, per page of a payout run (up to 98 citizens): one Query of the eligibility
index, one PutItem fixing the chunk, one BatchGetItem per table read (citizens and payout
accounts; this run's items too on a retry), one TransactWriteItems per citizen paid (the
ledger posting with its payout item), and one TransactWriteItems counting the chunk with
a row per citizen skipped. Every staff write (start, approve, export, settle) is one
TransactWriteItems with its action-log entry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters import dynamodb_totals
from chalicelib.adapters.dynamodb_chunk_jobs import CONFLICT_ATTEMPTS, count_chunk, update_if
from chalicelib.adapters.dynamodb_effects import RECORD_RETENTION, run_counted
from chalicelib.adapters.dynamodb_ledger import account_of
from chalicelib.adapters.dynamodb_models import (
    Citizen,
    JobChunk,
    PayoutAccount,
    PayoutItem,
    PayoutRun,
    PayoutSkip,
)
from chalicelib.adapters.dynamodb_payout_accounts import stored_account
from chalicelib.adapters.dynamodb_reads import MAX_KEYS, batch_get
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain import clock, payout_runs
from chalicelib.domain.ledger import Account
from chalicelib.domain.payout_accounts import StoredPayoutAccount
from chalicelib.domain.payout_runs import (
    ChunkTally,
    PayoutRunCounted,
    RunPage,
    RunSummary,
    Skipped,
    SkippedPage,
    SkipReason,
)
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.errors import RetryableConflict
from chalicelib.services.chunk_jobs import ChunkRef
from chalicelib.services.payout_runs import (
    PAID_BATCH,
    Payee,
    RunExists,
    SettlementConflict,
)


class DynamoDbPayoutRuns:
    def create_run(self, run: RunSummary, action: StaffAction) -> None:
        tx = NamedTransaction()
        tx.put(
            "run",
            PayoutRun(
                run.run_id,
                period=run.period,
                status=run.status,
                started_at=run.started_at,
                started_by=run.started_by,
                chunks_expected=run.chunks_expected,
                chunks_done=0,
                expires=run.started_at + RECORD_RETENTION,
            ),
            condition=PayoutRun.run_id.does_not_exist(),
        )
        put_in(tx, action)
        try:
            _commit(tx)
        except ConditionsFailed as e:
            if "run" not in e.names:
                raise RetryableConflict(f"{run.run_id}: {sorted(e.names)}") from e
            existing = self.run(run.run_id)
            if existing is None:
                raise RetryableConflict(f"{run.run_id}: exists but cannot be read") from e
            raise RunExists(existing) from e

    def run(self, run_id: str) -> RunSummary | None:
        try:
            return _run_summary(PayoutRun.get(run_id, consistent_read=True))
        except PayoutRun.DoesNotExist:
            return None

    def all_runs(self) -> list[RunSummary]:
        """Every run (one a month): read by the audit's last chunk, never by a request."""
        return [_run_summary(r) for r in PayoutRun.scan(consistent_read=True)]

    def runs_page(self, limit: int, after: str | None) -> RunPage:
        """One Query of the by-period index, newest first."""
        found = PayoutRun.by_period.query(
            "runs",
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
            last_evaluated_key=(
                {
                    "listed": {"S": "runs"},
                    "period": {"S": after},
                    "run_id": {"S": f"payout-{after}"},
                }
                if after
                else None
            ),
        )
        runs = [_run_summary(r) for r in found]
        more = len(runs) == limit and found.last_evaluated_key is not None
        return RunPage(runs, runs[-1].period if more else None)

    def skipped_page(
        self, run_id: str, reason: SkipReason | None, limit: int, after: str | None
    ) -> SkippedPage:
        """One Query of the run's partition (a reason is a key prefix)."""
        found = PayoutSkip.query(
            run_id,
            PayoutSkip.skip_key.startswith(f"{reason}#") if reason else None,
            consistent_read=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key=(
                {"run_id": {"S": run_id}, "skip_key": {"S": after}} if after else None
            ),
        )
        rows = list(found)
        skipped = [Skipped(r.citizen_id, r.reason) for r in rows]  # type: ignore[arg-type]
        more = len(rows) == limit and found.last_evaluated_key is not None
        return SkippedPage(skipped, rows[-1].skip_key if more else None)

    def approve(self, run_id: str, action: StaffAction) -> bool:
        tx = NamedTransaction()
        tx.update(
            "run",
            PayoutRun(run_id),
            [
                PayoutRun.status.set("approved"),
                PayoutRun.approved_at.set(action.at),
                PayoutRun.approved_by.set(action.actor),
            ],
            PayoutRun.status == "ready",
            versioned=False,
        )
        put_in(tx, action)
        try:
            _commit(tx)
        except ConditionsFailed as e:
            if "run" not in e.names:
                raise RetryableConflict(f"{run_id}: {sorted(e.names)}") from e
            return False
        return True

    def record_export(self, run_id: str, fmt: str, sha256: str, action: StaffAction) -> None:
        """A kept file never changes, so its digest is set once and then only met again."""
        digest = Path(f"exports.{fmt}")
        _update_with_entry(
            run_id,
            [digest.set(sha256)],
            PayoutRun.run_id.exists() & (digest.does_not_exist() | (digest == sha256)),
            action,
        )

    def eligible_page(
        self, bucket: str, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        found = Citizen.payout_eligible.query(
            bucket,
            Citizen.citizen_id > start if start else None,
            limit=limit,
            page_size=limit,
        )
        members = [c.citizen_id for c in found]
        more = len(members) == limit and found.last_evaluated_key is not None
        return members, (members[-1] if more else None)

    def payees(
        self, run_id: str, citizen_ids: Sequence[str], *, with_items: bool
    ) -> dict[str, Payee]:
        accounts: dict[str, Account] = {}
        paid_to: dict[str, StoredPayoutAccount] = {}
        items: dict[str, payout_runs.PayoutItem] = {}
        wanted: list[tuple[type[Model], str, str | None]] = []
        for c in citizen_ids:
            wanted.append((Citizen, c, None))
            wanted.append((PayoutAccount, c, None))
            if with_items:
                wanted.append((PayoutItem, run_id, c))
        for start in range(0, len(wanted), MAX_KEYS):
            for found in batch_get(wanted[start : start + MAX_KEYS]):
                if isinstance(found, Citizen):
                    accounts[found.citizen_id] = account_of(found)
                elif isinstance(found, PayoutAccount):
                    paid_to[found.citizen_id] = stored_account(found)
                elif isinstance(found, PayoutItem):
                    items[found.citizen_id] = _item(found)
        return {c: Payee(accounts.get(c), paid_to.get(c), items.get(c)) for c in citizen_ids}

    def citizen_account(self, citizen_id: str) -> Account | None:
        try:
            return account_of(Citizen.get(citizen_id, consistent_read=True))
        except Citizen.DoesNotExist:
            return None

    def items(self, run_id: str, citizen_ids: Sequence[str]) -> dict[str, payout_runs.PayoutItem]:
        keys: list[tuple[type[Model], str, str | None]] = [
            (PayoutItem, run_id, c) for c in dict.fromkeys(citizen_ids)
        ]
        found: dict[str, payout_runs.PayoutItem] = {}
        for start in range(0, len(keys), MAX_KEYS):
            for item in batch_get(keys[start : start + MAX_KEYS]):
                assert isinstance(item, PayoutItem)
                found[item.citizen_id] = _item(item)
        return found

    def run_items(self, run_id: str) -> Iterator[payout_runs.PayoutItem]:
        for item in PayoutItem.query(run_id, consistent_read=True):
            yield _item(item)

    def count_payout_chunk(self, ref: ChunkRef, tally: ChunkTally, has_next: bool) -> bool:
        actions: list[Action] = [
            PayoutRun.chunks_done.add(1),
            PayoutRun.chunks_expected.add(1 if has_next else 0),
            PayoutRun.citizens.add(tally.citizens),
            PayoutRun.total_points.add(tally.points),
            PayoutRun.skipped_no_account.add(tally.no_account),
            PayoutRun.skipped_below_threshold.add(tally.below_threshold),
        ]
        paid = (
            (JobChunk.paid == tally.citizens)
            if tally.citizens
            else (JobChunk.paid.does_not_exist() | (JobChunk.paid == 0))
        )
        now = clock.utc_now()
        skips = [
            PayoutSkip(
                ref.job_id,
                f"{skip.reason}#{skip.citizen_id}",
                citizen_id=skip.citizen_id,
                reason=skip.reason,
                at=now,
                expires=now + RECORD_RETENTION,
            )
            for skip in tally.skipped
        ]
        return count_chunk(ref, PayoutRun(ref.job_id), actions, paid, skips)

    def mark_ready(self, run_id: str, now: datetime) -> bool:
        return update_if(
            PayoutRun(run_id),
            [PayoutRun.status.set("ready"), PayoutRun.ready_at.set(now)],
            (PayoutRun.status == "running") & (PayoutRun.chunks_done == PayoutRun.chunks_expected),
        )

    def settle_paid(
        self, settled: Sequence[tuple[payout_runs.PayoutItem, StaffAction]], now: datetime
    ) -> None:
        """One transaction: each item's `pending` -> `paid` with its action-log entry, the
        run's counters and the settled-stats rows (2n + 3 items, n <= PAID_BATCH). An item
        no longer pending refuses the whole, its entry with it: SettlementConflict."""
        if not settled:
            return
        if len(settled) > PAID_BATCH:
            raise ValueError(f"{len(settled)} items: at most {PAID_BATCH} per transaction")
        tx = NamedTransaction()
        items = [item for item, _ in settled]
        for item, action in settled:
            tx.update(
                item.citizen_id,
                PayoutItem(item.run_id, item.citizen_id),
                [
                    PayoutItem.status.set("paid"),
                    PayoutItem.settled_at.set(now),
                    PayoutItem.settled_by.set(action.actor),
                ],
                PayoutItem.status == "pending",
                versioned=False,
            )
            put_in(tx, action, name=f"#entry:{item.citizen_id}")
        counted = PayoutRunCounted(
            items[0].run_id, paid_items=len(items), paid_points=sum(i.amount for i in items)
        )
        tx.update(
            "#run",
            PayoutRun(items[0].run_id),
            run_counted(counted),
            PayoutRun.run_id.exists(),
            versioned=False,
        )
        # The city's stats count the transfers confirmed paid in this same transaction: the
        # items' `pending` conditions make it exactly once (rows of their own, so the ledger
        # stream's totals never contend with a settlement).
        dynamodb_totals.count_settled(tx, counted.paid_points, now)
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                tx.commit()
                return
            except ConditionsFailed as e:
                if e.names.isdisjoint(i.citizen_id for i in items):
                    # Only an entry's or the run's condition: a bug or a run deleted under us.
                    raise RetryableConflict(f"settle: {sorted(e.names)}") from e
                raise SettlementConflict(sorted(e.names)) from e
            except RetryableConflict:
                # Another settlement's transaction held the shared stats rows: nothing of
                # this one was written, so it is sent again.
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))

    def mark_settled(self, run_id: str, now: datetime) -> bool:
        """`approved` -> `settled` when no item is pending. A condition cannot add, so the
        counters read are the condition: any settlement meanwhile makes this a no-op, and
        that settlement's own call decides."""
        run = self.run(run_id)
        if run is None or run.status != "approved" or run.pending_items != 0:
            return False
        return update_if(
            PayoutRun(run_id),
            [PayoutRun.status.set("settled"), PayoutRun.settled_at.set(now)],
            (PayoutRun.status == "approved")
            & (PayoutRun.citizens == run.citizens)
            & (PayoutRun.paid_items == run.paid_items)
            & (PayoutRun.failed_items == run.failed_items),
        )


def _update_with_entry(
    run_id: str, actions: list[Action], condition: Condition, action: StaffAction
) -> None:
    """The run's update and the action's entry, in one transaction (a failed condition is
    a bug or a run deleted under us: never an entry alone)."""
    tx = NamedTransaction()
    tx.update("run", PayoutRun(run_id), actions, condition, versioned=False)
    put_in(tx, action)
    try:
        _commit(tx)
    except ConditionsFailed as e:
        raise RetryableConflict(f"{run_id}: {action.action} {sorted(e.names)}") from e


def _commit(tx: NamedTransaction) -> None:
    """Commit, sending again a transaction cancelled by a conflict (nothing was written)."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            tx.commit()
            return
        except RetryableConflict:
            if attempt == CONFLICT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))


def _run_summary(r: PayoutRun) -> RunSummary:
    return RunSummary(
        run_id=r.run_id,
        period=r.period,
        status=r.status,  # type: ignore[arg-type]
        started_at=r.started_at,
        started_by=r.started_by,
        chunks_expected=int(r.chunks_expected),
        chunks_done=int(r.chunks_done),
        citizens=int(r.citizens),
        total_points=int(r.total_points),
        skipped_no_account=int(r.skipped_no_account),
        skipped_below_threshold=int(r.skipped_below_threshold),
        paid_items=int(r.paid_items),
        paid_points=int(r.paid_points),
        failed_items=int(r.failed_items),
        failed_points=int(r.failed_points),
        ready_at=r.ready_at,
        approved_at=r.approved_at,
        approved_by=r.approved_by,
        exports=_exports(r.exports),
        settled_at=r.settled_at,
    )


def _exports(kept: Any) -> dict[str, str]:
    found = kept.as_dict() if hasattr(kept, "as_dict") else kept
    return {str(k): str(v) for k, v in dict(found or {}).items()}


def _item(i: PayoutItem) -> payout_runs.PayoutItem:
    return payout_runs.PayoutItem(
        run_id=i.run_id,
        citizen_id=i.citizen_id,
        period=i.period,
        amount=int(i.amount),
        bank_code=i.bank_code,
        account_ciphertext=i.account_ciphertext,
        account_last4=i.account_last4,
        holder=i.holder,
        status=i.status,  # type: ignore[arg-type]
        created_at=i.created_at,
        settled_at=i.settled_at,
        settled_by=i.settled_by,
    )
