"""DynamoDB adapter for ledger audits (chalicelib.services.ledger_audit.AuditStore): the
audit's item, the scan pages it works through, and each citizen's account and entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters.dynamodb_chunk_jobs import count_chunk, update_if
from chalicelib.adapters.dynamodb_ledger import entry_of
from chalicelib.adapters.dynamodb_models import Citizen, LedgerAudit, LedgerEntry
from chalicelib.adapters.dynamodb_reads import MAX_KEYS, batch_get
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import NamedTransaction
from chalicelib.domain import ledger
from chalicelib.domain.ledger_audit import (
    AuditedCitizen,
    AuditSummary,
    AuditTally,
    Discrepancy,
    Problem,
)
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.services.chunk_jobs import ChunkRef

AUDIT_RETENTION = timedelta(days=400)
AUDIT_KIND = "ledger"


class DynamoDbLedgerAudit:
    def create_audit(
        self,
        audit_id: str,
        admin_id: str,
        now: datetime,
        chunks: int,
        action: StaffAction | None = None,
    ) -> None:
        """Once; a staff member's start with its action-log entry in the same write."""
        item = LedgerAudit(
            AUDIT_KIND,
            audit_id,
            status="running",
            started_at=now,
            started_by=admin_id,
            chunks_expected=chunks,
            expires=now + AUDIT_RETENTION,
        )
        if action is None:
            item.save(condition=LedgerAudit.audit_id.does_not_exist())
            return
        transaction = NamedTransaction()
        transaction.put("audit", item, condition=LedgerAudit.audit_id.does_not_exist())
        put_in(transaction, action)
        transaction.commit()

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
            LedgerAudit.points_forfeited.add(tally.points_forfeited),
            LedgerAudit.discrepancy_count.add(len(tally.discrepancies)),
        ]
        kept = [_discrepancy_map(d) for d in tally.discrepancies[:keep]]
        if kept:
            actions.append(LedgerAudit.discrepancies.set(LedgerAudit.discrepancies.append(kept)))
        return count_chunk(ref, LedgerAudit(AUDIT_KIND, ref.job_id), actions)

    def finish_audit(self, audit_id: str, totals: dict[str, object], now: datetime) -> bool:
        return update_if(
            LedgerAudit(AUDIT_KIND, audit_id),
            [
                LedgerAudit.status.set("done"),
                LedgerAudit.totals.set(totals),
                LedgerAudit.finished_at.set(now),
            ],
            (LedgerAudit.status == "running")
            & (LedgerAudit.chunks_done == LedgerAudit.chunks_expected),
        )


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
                cast(Problem, str(d["problem"])),  # written by this module
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
        points_forfeited=int(a.points_forfeited or 0),
    )


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
