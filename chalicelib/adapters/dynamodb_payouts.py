"""DynamoDB adapter for payouts and ledger audits (chalicelib.services.payouts.PayoutStore).

Requests, per page of a payout run (up to 100 citizens): one Query of the eligibility
index, one PutItem fixing the chunk, one BatchGetItem per table read (citizens and payout
accounts; this run's items too on a retry), one TransactWriteItems per citizen paid (the
ledger posting with its payout item), and one TransactWriteItems counting the chunk.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters.dynamodb_ledger import account_of, entry_of
from chalicelib.adapters.dynamodb_models import (
    Citizen,
    CityTotal,
    JobChunk,
    LedgerAudit,
    LedgerEntry,
    PayoutAccount,
    PayoutItem,
    PayoutRun,
    PayoutRunAction,
)
from chalicelib.adapters.dynamodb_reads import MAX_KEYS, batch_get
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain import ledger, payouts, totals
from chalicelib.domain.clock import seoul_day
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.ledger import (
    Account,
    ChunkPaid,
    PayoutRecorded,
    PayoutRunCounted,
    PayoutSettled,
)
from chalicelib.domain.payouts import (
    AuditedCitizen,
    AuditTally,
    ChunkTally,
    Discrepancy,
    RunSummary,
    StoredPayoutAccount,
)
from chalicelib.errors import RetryableConflict
from chalicelib.services.payouts import (
    AuditSummary,
    Chunk,
    ChunkMoved,
    ChunkRef,
    Payee,
    RunExists,
    SettlementConflict,
)

RECORD_RETENTION = timedelta(days=5 * 366)
"""Payment records: five years, as Korean tax law keeps them."""
CHUNK_RETENTION = timedelta(days=60)
AUDIT_RETENTION = timedelta(days=400)
AUDIT_KIND = "ledger"
SETTLED_DAY_RETENTION = timedelta(days=400)
"""A day's settled stats row lives as long as the city's other day rows."""
CONFLICT_ATTEMPTS = 8


def payout_effect_write(
    effect: PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid, posting: ledger.Posting
) -> tuple[Model, list[Action], Condition]:
    """The ledger posting's payout effects, as updates in its transaction."""
    if isinstance(effect, ChunkPaid):
        return (
            JobChunk(effect.job_id, effect.chunk_key),
            [JobChunk.paid.add(1)],
            JobChunk.chunk_key.exists() & (JobChunk.done == False),  # noqa: E712
        )
    if isinstance(effect, PayoutRecorded):
        return (
            PayoutItem(effect.run_id, effect.citizen_id),
            [
                PayoutItem.period.set(effect.period),
                PayoutItem.amount.set(effect.amount),
                PayoutItem.bank_code.set(effect.bank_code),
                PayoutItem.account_ciphertext.set(effect.account_ciphertext),
                PayoutItem.account_last4.set(effect.account_last4),
                PayoutItem.holder.set(effect.holder),
                PayoutItem.status.set("pending"),
                PayoutItem.created_at.set(posting.at),
                PayoutItem.expires.set(posting.at + RECORD_RETENTION),
            ],
            PayoutItem.citizen_id.does_not_exist(),
        )
    if isinstance(effect, PayoutSettled):
        return (
            PayoutItem(effect.run_id, effect.citizen_id),
            [
                PayoutItem.status.set(effect.status),
                PayoutItem.settled_at.set(posting.at),
                PayoutItem.settled_by.set(effect.admin_id),
            ],
            PayoutItem.status == "pending",
        )
    return (
        PayoutRun(effect.run_id),
        _run_counted(effect),
        PayoutRun.run_id.exists(),
    )


def _run_counted(effect: PayoutRunCounted) -> list[Action]:
    return [
        PayoutRun.paid_items.add(effect.paid_items),
        PayoutRun.paid_points.add(effect.paid_points),
        PayoutRun.failed_items.add(effect.failed_items),
        PayoutRun.failed_points.add(effect.failed_points),
    ]


class DynamoDbPayouts:
    # Payout accounts ---------------------------------------------------------------------

    def save_account(self, account: StoredPayoutAccount) -> None:
        PayoutAccount(
            account.citizen_id,
            bank_code=account.bank_code,
            account_ciphertext=account.account_ciphertext,
            account_last4=account.account_last4,
            holder=account.holder,
            updated_at=account.updated_at,
        ).save()

    def account(self, citizen_id: str) -> StoredPayoutAccount | None:
        try:
            return _stored_account(PayoutAccount.get(citizen_id, consistent_read=True))
        except PayoutAccount.DoesNotExist:
            return None

    # Runs -----------------------------------------------------------------------------------

    def create_run(self, run: RunSummary) -> None:
        item = PayoutRun(
            run.run_id,
            period=run.period,
            status=run.status,
            started_at=run.started_at,
            started_by=run.started_by,
            chunks_expected=run.chunks_expected,
            chunks_done=0,
            expires=run.started_at + RECORD_RETENTION,
        )
        try:
            item.save(condition=PayoutRun.run_id.does_not_exist())
        except PutError as e:
            if not condition_failed(e):
                raise
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

    def chunk(self, ref: ChunkRef) -> Chunk | None:
        try:
            return _chunk(JobChunk.get(ref.job_id, ref.key, consistent_read=True))
        except JobChunk.DoesNotExist:
            return None

    def fix_chunk(
        self, ref: ChunkRef, members: list[str], next_start: str | None
    ) -> tuple[Chunk, bool]:
        item = JobChunk(
            ref.job_id,
            ref.key,
            members=members,
            next_start=next_start,
            done=False,
            expires=datetime.now(UTC) + CHUNK_RETENTION,
        )
        try:
            item.save(condition=JobChunk.chunk_key.does_not_exist())
        except PutError as e:
            if not condition_failed(e):
                raise
            kept = self.chunk(ref)
            if kept is None:
                raise RetryableConflict(f"chunk {ref.key}: kept but not readable") from e
            return kept, False
        return _chunk(item), True

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
        items: dict[str, payouts.PayoutItem] = {}
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
                    paid_to[found.citizen_id] = _stored_account(found)
                elif isinstance(found, PayoutItem):
                    items[found.citizen_id] = _item(found)
        return {c: Payee(accounts.get(c), paid_to.get(c), items.get(c)) for c in citizen_ids}

    def citizen_account(self, citizen_id: str) -> Account | None:
        try:
            return account_of(Citizen.get(citizen_id, consistent_read=True))
        except Citizen.DoesNotExist:
            return None

    def items(self, run_id: str, citizen_ids: Sequence[str]) -> dict[str, payouts.PayoutItem]:
        keys: list[tuple[type[Model], str, str | None]] = [
            (PayoutItem, run_id, c) for c in dict.fromkeys(citizen_ids)
        ]
        found: dict[str, payouts.PayoutItem] = {}
        for start in range(0, len(keys), MAX_KEYS):
            for item in batch_get(keys[start : start + MAX_KEYS]):
                assert isinstance(item, PayoutItem)
                found[item.citizen_id] = _item(item)
        return found

    def run_items(self, run_id: str) -> Iterator[payouts.PayoutItem]:
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
        return _count_chunk(ref, PayoutRun(ref.job_id), actions, paid)

    def mark_ready(self, run_id: str, now: datetime) -> bool:
        return _update_if(
            PayoutRun(run_id),
            [PayoutRun.status.set("ready"), PayoutRun.ready_at.set(now)],
            (PayoutRun.status == "running") & (PayoutRun.chunks_done == PayoutRun.chunks_expected),
        )

    def settle_paid(
        self, items: Sequence[payouts.PayoutItem], admin_id: str, now: datetime
    ) -> None:
        if not items:
            return
        tx = NamedTransaction()
        for item in items:
            tx.update(
                item.citizen_id,
                PayoutItem(item.run_id, item.citizen_id),
                [
                    PayoutItem.status.set("paid"),
                    PayoutItem.settled_at.set(now),
                    PayoutItem.settled_by.set(admin_id),
                ],
                PayoutItem.status == "pending",
                versioned=False,
            )
        counted = PayoutRunCounted(
            items[0].run_id, paid_items=len(items), paid_points=sum(i.amount for i in items)
        )
        tx.update(
            "#run",
            PayoutRun(items[0].run_id),
            _run_counted(counted),
            PayoutRun.run_id.exists(),
            versioned=False,
        )
        # The city's stats count the transfers confirmed paid in this same transaction: the
        # items' `pending` conditions make it exactly once (rows of their own, so the ledger
        # stream's totals never contend with a settlement).
        for row in totals.settled_rows(seoul_day(now)):
            actions: list[Action] = [Path("points_settled").add(counted.paid_points)]
            if row != totals.SETTLED + totals.ALL_TIME:
                actions.append(CityTotal.expires.set(now + SETTLED_DAY_RETENTION))
            tx.update(f"#stats:{row}", CityTotal(row), actions, versioned=False)
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                tx.commit()
                return
            except ConditionsFailed as e:
                raise SettlementConflict(sorted(e.names)) from e
            except RetryableConflict:
                # Another settlement's transaction held the shared stats rows: nothing of
                # this one was written, so it is sent again.
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))

    def mark_settled(self, run_id: str, now: datetime) -> bool:
        """`ready` -> `settled` when no item is pending. A condition cannot add, so the
        counters read are the condition: any settlement meanwhile makes this a no-op, and
        that settlement's own call decides."""
        run = self.run(run_id)
        if run is None or run.status != "ready" or run.pending_items != 0:
            return False
        return _update_if(
            PayoutRun(run_id),
            [PayoutRun.status.set("settled"), PayoutRun.settled_at.set(now)],
            (PayoutRun.status == "ready")
            & (PayoutRun.citizens == run.citizens)
            & (PayoutRun.paid_items == run.paid_items)
            & (PayoutRun.failed_items == run.failed_items),
        )

    def record_action(
        self, run_id: str, action: str, admin_id: str, now: datetime, detail: dict[str, object]
    ) -> None:
        PayoutRunAction(
            run_id,
            f"{sortable_id(now)}",
            action=action,
            admin_id=admin_id,
            at=now,
            detail=detail,
            expires=now + RECORD_RETENTION,
        ).save()

    # Audits -----------------------------------------------------------------------------------

    def create_audit(self, audit_id: str, admin_id: str, now: datetime, chunks: int) -> None:
        LedgerAudit(
            AUDIT_KIND,
            audit_id,
            status="running",
            started_at=now,
            started_by=admin_id,
            chunks_expected=chunks,
            expires=now + AUDIT_RETENTION,
        ).save(condition=LedgerAudit.audit_id.does_not_exist())

    def audit(self, audit_id: str) -> AuditSummary | None:
        try:
            return _audit(LedgerAudit.get(AUDIT_KIND, audit_id, consistent_read=True))
        except LedgerAudit.DoesNotExist:
            return None

    def latest_audit(self) -> AuditSummary | None:
        for found in LedgerAudit.query(
            AUDIT_KIND, scan_index_forward=False, limit=1, consistent_read=True
        ):
            return _audit(found)
        return None

    def scan_page(
        self, segment: int, segments: int, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        found = Citizen.scan(
            segment=segment,
            total_segments=segments,
            limit=limit,
            page_size=limit,
            last_evaluated_key={"citizen_id": {"S": start}} if start else None,
            attributes_to_get=["citizen_id"],
        )
        members = [c.citizen_id for c in found]
        last = found.last_evaluated_key
        return members, (members[-1] if last and len(members) == limit else None)

    def audited(self, citizen_ids: Sequence[str]) -> dict[str, AuditedCitizen]:
        out: dict[str, AuditedCitizen] = {}
        keys: list[tuple[type[Model], str, str | None]] = [(Citizen, c, None) for c in citizen_ids]
        for start in range(0, len(keys), MAX_KEYS):
            for c in batch_get(keys[start : start + MAX_KEYS]):
                assert isinstance(c, Citizen)
                out[c.citizen_id] = AuditedCitizen(
                    c.citizen_id, int(c.balance), int(c.lifetime_earned), int(c.lifetime_paid)
                )
        return out

    def entries(self, citizen_id: str) -> list[ledger.LedgerEntry]:
        """Every entry of the citizen, oldest first (one Query per MB of them)."""
        return [entry_of(e) for e in LedgerEntry.query(citizen_id, consistent_read=True)]

    def count_audit_chunk(
        self, ref: ChunkRef, tally: AuditTally, has_next: bool, keep: int
    ) -> bool:
        actions: list[Action] = [
            LedgerAudit.chunks_done.add(1),
            LedgerAudit.chunks_expected.add(1 if has_next else 0),
            LedgerAudit.citizens_checked.add(tally.citizens_checked),
            LedgerAudit.points_issued.add(tally.points_issued),
            LedgerAudit.points_paid.add(tally.points_paid),
            LedgerAudit.points_held.add(tally.points_held),
            LedgerAudit.discrepancy_count.add(len(tally.discrepancies)),
        ]
        kept = [_discrepancy_map(d) for d in tally.discrepancies[:keep]]
        if kept:
            actions.append(LedgerAudit.discrepancies.set(LedgerAudit.discrepancies.append(kept)))
        return _count_chunk(ref, LedgerAudit(AUDIT_KIND, ref.job_id), actions)

    def finish_audit(self, audit_id: str, totals: dict[str, object], now: datetime) -> bool:
        return _update_if(
            LedgerAudit(AUDIT_KIND, audit_id),
            [
                LedgerAudit.status.set("done"),
                LedgerAudit.totals.set(totals),
                LedgerAudit.finished_at.set(now),
            ],
            (LedgerAudit.status == "running")
            & (LedgerAudit.chunks_done == LedgerAudit.chunks_expected),
        )


def _count_chunk(
    ref: ChunkRef, job: Model, actions: list[Action], paid: Condition | None = None
) -> bool:
    """Flip the chunk done and add to its job's counters in one transaction, once (and, for
    a payout chunk, only while its payments are the tallied ones: ChunkMoved otherwise).
    Every chunk of a job counts into one item: a conflict with a sibling is retried here."""
    for attempt in range(CONFLICT_ATTEMPTS):
        tx = NamedTransaction()
        condition = JobChunk.chunk_key.exists() & (JobChunk.done == False)  # noqa: E712
        tx.update(
            "chunk",
            JobChunk(ref.job_id, ref.key),
            [JobChunk.done.set(True)],
            condition & paid if paid is not None else condition,
            versioned=False,
        )
        tx.update("job", job, actions, versioned=False)
        try:
            tx.commit()
            return True
        except ConditionsFailed as e:
            if "chunk" not in e.names:
                raise RetryableConflict(f"chunk {ref.key}: {sorted(e.names)}") from e
            kept = JobChunk.get(ref.job_id, ref.key, consistent_read=True)
            if kept.done:
                return False
            raise ChunkMoved(ref.key) from e
        except RetryableConflict:
            if attempt == CONFLICT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    return False


def _update_if(item: Model, actions: list[Action], condition: Condition) -> bool:
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as e:
        if condition_failed(e):
            return False
        raise
    return True


def _stored_account(item: PayoutAccount) -> StoredPayoutAccount:
    return StoredPayoutAccount(
        citizen_id=item.citizen_id,
        bank_code=item.bank_code,
        account_ciphertext=item.account_ciphertext,
        account_last4=item.account_last4,
        holder=item.holder,
        updated_at=item.updated_at,
    )


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
        settled_at=r.settled_at,
    )


def _item(i: PayoutItem) -> payouts.PayoutItem:
    return payouts.PayoutItem(
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


def _chunk(c: JobChunk) -> Chunk:
    return Chunk(tuple(c.members or ()), c.next_start, bool(c.done), int(c.paid or 0))


def _discrepancy_map(d: Discrepancy) -> dict[str, Any]:
    return {
        "citizen_id": d.citizen_id,
        "problem": d.problem,
        "balance": d.balance,
        "ledger_sum": d.ledger_sum,
        "detail": d.detail,
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return value


def _audit(a: LedgerAudit) -> AuditSummary:
    found = []
    for raw in a.discrepancies or []:
        d = _plain(raw)
        found.append(
            Discrepancy(
                str(d["citizen_id"]),
                str(d["problem"]),
                int(d["balance"]),
                int(d["ledger_sum"]),
                str(d.get("detail") or ""),
            )
        )
    totals = _plain(a.totals) if a.totals is not None else None
    return AuditSummary(
        audit_id=a.audit_id,
        status=a.status,  # type: ignore[arg-type]
        started_at=a.started_at,
        started_by=a.started_by,
        chunks_expected=int(a.chunks_expected),
        chunks_done=int(a.chunks_done),
        citizens_checked=int(a.citizens_checked),
        discrepancy_count=int(a.discrepancy_count),
        discrepancies=found,
        points_issued=int(a.points_issued),
        points_paid=int(a.points_paid),
        points_held=int(a.points_held),
        totals={k: _number(v) for k, v in totals.items()} if totals else None,
        finished_at=a.finished_at,
    )


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
