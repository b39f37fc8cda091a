"""Ledger audits in memory, over the city's citizens and entries."""

from __future__ import annotations

import dataclasses
import zlib
from datetime import datetime
from typing import Any

from chalicelib.domain.ledger import LedgerEntry
from chalicelib.domain.ledger_audit import AuditedCitizen, AuditSummary
from tests.fakes.chunk_jobs import flip_chunk
from tests.fakes.city import MemoryCity


class MemoryLedgerAudit:
    """AuditStore in memory."""

    def __init__(self, city: MemoryCity) -> None:
        self._city = city
        self.audits: dict[str, AuditSummary] = {}
        self.actions: list[Any] = []
        """Staff actions written with an audit's start."""

    def create_audit(
        self, audit_id: str, admin_id: str, now: datetime, chunks: int, action: Any = None
    ) -> None:
        if action is not None:
            self.actions.append(action)
        self.audits[audit_id] = AuditSummary(
            audit_id, "running", now, admin_id, chunks, 0, 0, 0, [], 0, 0, 0, None, None
        )

    def audit(self, audit_id: str) -> Any:
        return self.audits.get(audit_id)

    def latest_audit(self) -> Any:
        return self.audits[max(self.audits)] if self.audits else None

    def scan_page(
        self, segment: int, segments: int, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        ids = sorted(
            c
            for c in self._city.citizens
            if zlib.crc32(c.encode()) % segments == segment and (start is None or c > start)
        )
        page = ids[:limit]
        return page, (page[-1] if len(page) == limit and len(ids) > limit else None)

    def audited(self, citizen_ids: Any) -> dict[str, Any]:
        out = {}
        for c in citizen_ids:
            citizen = self._city.citizens.get(c)
            if citizen is not None:
                out[c] = AuditedCitizen(
                    c, citizen.balance, citizen.lifetime_earned, citizen.lifetime_paid
                )
        return out

    def entries(self, citizen_id: str) -> list[LedgerEntry]:
        return sorted(self._city.entries.get(citizen_id, []), key=lambda e: e.entry_id)

    def count_audit_chunk(self, ref: Any, tally: Any, has_next: bool, keep: int) -> bool:
        with self._city.lock:
            if not flip_chunk(self._city, ref):
                return False
            a = self.audits[ref.job_id]
            self.audits[ref.job_id] = dataclasses.replace(
                a,
                chunks_done=a.chunks_done + 1,
                chunks_expected=a.chunks_expected + (1 if has_next else 0),
                citizens_checked=a.citizens_checked + tally.citizens_checked,
                points_issued=a.points_issued + tally.points_issued,
                points_paid=a.points_paid + tally.points_paid,
                points_held=a.points_held + tally.points_held,
                points_forfeited=a.points_forfeited + tally.points_forfeited,
                discrepancy_count=a.discrepancy_count + len(tally.discrepancies),
                discrepancies=[*a.discrepancies, *tally.discrepancies[:keep]],
            )
            return True

    def finish_audit(self, audit_id: str, totals: dict[str, object], now: datetime) -> bool:
        with self._city.lock:
            a = self.audits[audit_id]
            if a.status != "running" or a.chunks_done != a.chunks_expected:
                return False
            self.audits[audit_id] = dataclasses.replace(
                a, status="done", totals=totals, finished_at=now
            )
            return True
