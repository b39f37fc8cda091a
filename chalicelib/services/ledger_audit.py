"""The ledger audit (DESIGN §6 invariants 2 and 3): every citizen's entries checked against
their account, a page at a time as a job of chunks (chalicelib.services.chunk_jobs), and
the city's books reconciled by the chunk that completes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chalicelib.domain.clock import Clock
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.ledger import LedgerEntry, earned_by, forfeited_by, paid_by
from chalicelib.domain.ledger_audit import (
    AuditedCitizen,
    AuditSummary,
    AuditTally,
    audit_citizen,
    city_totals,
)
from chalicelib.domain.payout_runs import RunSummary
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.domain.totals import ALL_TIME, Totals, reconciled
from chalicelib.errors import NotFound
from chalicelib.services.chunk_jobs import ChunkQueue, ChunkRef, ChunkStore

AUDIT_SEGMENTS = 16
AUDIT_PAGE = 50
DISCREPANCIES_KEPT = 100


class AuditStore(Protocol):
    def create_audit(
        self,
        audit_id: str,
        admin_id: str,
        now: datetime,
        chunks: int,
        action: StaffAction | None = None,
    ) -> None: ...

    def audit(self, audit_id: str) -> AuditSummary | None: ...

    def latest_audit(self) -> AuditSummary | None: ...

    def scan_page(
        self, segment: int, segments: int, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """Citizen ids of one scan segment's next page and where the segment goes on (the one
        place anything scans: the audit must see every citizen; it runs as a job, in pages)."""
        ...

    def audited(self, citizen_ids: Sequence[str]) -> dict[str, AuditedCitizen]: ...

    def entries(self, citizen_id: str) -> list[LedgerEntry]: ...

    def count_audit_chunk(
        self, ref: ChunkRef, tally: AuditTally, has_next: bool, keep: int
    ) -> bool: ...

    def finish_audit(self, audit_id: str, totals: dict[str, object], now: datetime) -> bool: ...


class PayoutRuns(Protocol):
    """Every payout run, whose settlement counters the audit reconciles."""

    def all_runs(self) -> list[RunSummary]: ...


class StatsReader(Protocol):
    """The city's stats counters (GET /v1/admin/stats), which the audit reconciles."""

    def read(self, periods: tuple[str, ...]) -> dict[str, Totals]: ...


class LedgerAuditService:
    def __init__(
        self,
        store: AuditStore,
        chunks: ChunkStore,
        runs: PayoutRuns,
        queue: ChunkQueue,
        clock: Clock,
        *,
        page: int = AUDIT_PAGE,
        stats: StatsReader | None = None,
    ) -> None:
        self._store = store
        self._chunks = chunks
        self._runs = runs
        self._queue = queue
        self._clock = clock
        self._page = page
        self._stats = stats

    def start_audit(self, started_by: str, actor: Actor | None = None) -> AuditSummary:
        """Start an audit: by the schedule (`actor` None), or by a staff member, whose start
        is recorded in the action log with the audit."""
        now = self._clock()
        audit_id = sortable_id(now)
        action = (
            None if actor is None else new_action(actor, "audit.start", f"audit:{audit_id}", now)
        )
        self._store.create_audit(audit_id, started_by, now, AUDIT_SEGMENTS, action)
        self._queue.send([ChunkRef("audit", audit_id, str(s)) for s in range(AUDIT_SEGMENTS)])
        found = self._store.audit(audit_id)
        assert found is not None
        return found

    def latest_audit(self) -> AuditSummary:
        found = self._store.latest_audit()
        if found is None:
            raise NotFound("no audit has run yet", code="no_audit")
        return found

    def audit_chunk(self, ref: ChunkRef) -> None:
        """Check one scan page of citizens (invariant 2), add the page's sums, hand on the
        next page; the chunk that completes the audit checks invariant 3."""
        if self._store.audit(ref.job_id) is None:
            raise LookupError(f"no audit {ref.job_id}")
        segment = int(ref.part)
        chunk = self._chunks.chunk(ref)
        if chunk is None:
            members, next_start = self._store.scan_page(
                segment, AUDIT_SEGMENTS, ref.start, self._page
            )
            chunk, _ = self._chunks.fix_chunk(ref, members, next_start)
        if not chunk.done:
            tally = self._audit_members(chunk.members)
            current = self._store.audit(ref.job_id)
            room = DISCREPANCIES_KEPT - (current.discrepancy_count if current else 0)
            self._store.count_audit_chunk(
                ref, tally, chunk.next_start is not None, max(0, min(room, 20))
            )
        if chunk.next_start is not None:
            self._queue.send([ChunkRef("audit", ref.job_id, ref.part, chunk.next_start)])
        self._finish_audit(ref.job_id)

    def _audit_members(self, members: Sequence[str]) -> AuditTally:
        tally = AuditTally()
        found = self._store.audited(members)
        for citizen_id in members:
            citizen = found.get(citizen_id)
            if citizen is None:
                continue  # gone since the scan read it
            problems = audit_citizen(citizen, entries := self._store.entries(citizen_id))
            if problems:
                # A posting may have landed between the two reads: read both again once.
                again = self._store.audited([citizen_id]).get(citizen_id)
                if again is not None:
                    citizen = again
                    problems = audit_citizen(citizen, entries := self._store.entries(citizen_id))
            tally.citizens_checked += 1
            tally.points_held += citizen.balance
            tally.points_issued += sum(earned_by(e.kind, e.points) for e in entries)
            tally.points_paid += sum(paid_by(e.kind, e.points) for e in entries)
            tally.points_forfeited += sum(forfeited_by(e.kind, e.points) for e in entries)
            tally.discrepancies += problems
        return tally

    def _finish_audit(self, audit_id: str) -> None:
        audit = self._store.audit(audit_id)
        if audit is None or audit.status != "running":
            return
        if audit.chunks_done != audit.chunks_expected:
            return
        runs = self._runs.all_runs()
        totals = city_totals(
            audit.points_issued,
            audit.points_paid,
            audit.points_held,
            runs,
            audit.points_forfeited,
        )
        if any(r.status == "running" for r in runs):
            totals["note"] = "a payout run was paying during the audit"
        if self._stats is not None:
            found = self._stats.read((ALL_TIME,)).get(ALL_TIME)
            totals.update(reconciled(totals, found or Totals(ALL_TIME)))
        self._store.finish_audit(audit_id, totals, self._clock())
