"""Payout accounts, runs, chunks, secrets and exports in memory."""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime
from typing import Any

from chalicelib.domain.ledger import (
    Account,
    ChunkPaid,
    LedgerEntry,
    PayoutRecorded,
    PayoutRunCounted,
    PayoutSettled,
    Posting,
)
from chalicelib.domain.payouts import PayoutItem, RunSummary
from tests.fakes.city import MemoryCity


def _payout_effect_holds(
    city: MemoryCity, effect: PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid
) -> bool:
    if isinstance(effect, ChunkPaid):
        chunk = city.chunks.get((effect.job_id, effect.chunk_key))
        return chunk is not None and not chunk.done
    if isinstance(effect, PayoutRecorded):
        return (effect.run_id, effect.citizen_id) not in city.payout_items
    if isinstance(effect, PayoutSettled):
        item = city.payout_items.get((effect.run_id, effect.citizen_id))
        return item is not None and item.status == "pending"
    return effect.run_id in city.payout_runs


def _apply_payout_effect(
    city: MemoryCity,
    effect: PayoutRecorded | PayoutSettled | PayoutRunCounted | ChunkPaid,
    posting: Posting,
) -> None:
    if isinstance(effect, ChunkPaid):
        key = (effect.job_id, effect.chunk_key)
        city.chunks[key] = dataclasses.replace(city.chunks[key], paid=city.chunks[key].paid + 1)
    elif isinstance(effect, PayoutRecorded):
        city.payout_items[(effect.run_id, effect.citizen_id)] = PayoutItem(
            effect.run_id,
            effect.citizen_id,
            effect.period,
            effect.amount,
            effect.bank_code,
            effect.account_ciphertext,
            effect.account_last4,
            effect.holder,
            "pending",
            posting.at,
        )
    elif isinstance(effect, PayoutSettled):
        key = (effect.run_id, effect.citizen_id)
        city.payout_items[key] = dataclasses.replace(
            city.payout_items[key],
            status=effect.status,
            settled_at=posting.at,
            settled_by=effect.admin_id,
        )
    else:
        run = city.payout_runs[effect.run_id]
        city.payout_runs[effect.run_id] = dataclasses.replace(
            run,
            paid_items=run.paid_items + effect.paid_items,
            paid_points=run.paid_points + effect.paid_points,
            failed_items=run.failed_items + effect.failed_items,
            failed_points=run.failed_points + effect.failed_points,
        )


def payout_bucket(citizen_id: str) -> str:
    import zlib

    return f"{zlib.crc32(citizen_id.encode('utf-8')) % 16:02d}"


class MemoryPayouts:
    """PayoutStore in memory, over the city the MemoryLedger writes."""

    def __init__(self, city: MemoryCity) -> None:
        from chalicelib.services.payouts import AuditSummary, Chunk

        self._city = city
        self.accounts: dict[str, Any] = {}
        self.chunks: dict[tuple[str, str], Chunk] = city.chunks
        self.actions: list[tuple[str, str, str, dict[str, object]]] = []
        self.audits: dict[str, AuditSummary] = {}

    def save_account(self, account: Any) -> None:
        self.accounts[account.citizen_id] = account

    def account(self, citizen_id: str) -> Any:
        return self.accounts.get(citizen_id)

    def create_run(self, run: RunSummary) -> None:
        from chalicelib.services.payouts import RunExists

        with self._city.lock:
            if run.run_id in self._city.payout_runs:
                raise RunExists(self._city.payout_runs[run.run_id])
            self._city.payout_runs[run.run_id] = run

    def run(self, run_id: str) -> RunSummary | None:
        return self._city.payout_runs.get(run_id)

    def all_runs(self) -> list[RunSummary]:
        return list(self._city.payout_runs.values())

    def chunk(self, ref: Any) -> Any:
        return self.chunks.get((ref.job_id, ref.key))

    def fix_chunk(self, ref: Any, members: list[str], next_start: str | None) -> Any:
        from chalicelib.services.payouts import Chunk

        with self._city.lock:
            key = (ref.job_id, ref.key)
            if key in self.chunks:
                return self.chunks[key], False
            self.chunks[key] = Chunk(tuple(members), next_start, False)
            return self.chunks[key], True

    def eligible_page(
        self, bucket: str, start: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        ids = sorted(
            c
            for c in self._city.eligible
            if payout_bucket(c) == bucket and (start is None or c > start)
        )
        page = ids[:limit]
        return page, (page[-1] if len(page) == limit else None)

    def payees(self, run_id: str, citizen_ids: Any, *, with_items: bool) -> dict[str, Any]:
        from chalicelib.services.payouts import Payee

        out = {}
        for c in citizen_ids:
            citizen = self._city.citizens.get(c)
            item = self._city.payout_items.get((run_id, c)) if with_items else None
            out[c] = Payee(citizen.account if citizen else None, self.accounts.get(c), item)
        return out

    def citizen_account(self, citizen_id: str) -> Account | None:
        citizen = self._city.citizens.get(citizen_id)
        return citizen.account if citizen else None

    def items(self, run_id: str, citizen_ids: Any) -> dict[str, PayoutItem]:
        return {
            c: self._city.payout_items[(run_id, c)]
            for c in citizen_ids
            if (run_id, c) in self._city.payout_items
        }

    def run_items(self, run_id: str) -> Any:
        return iter(
            sorted(
                (i for (r, _), i in self._city.payout_items.items() if r == run_id),
                key=lambda i: i.citizen_id,
            )
        )

    def _flip(self, ref: Any) -> bool:
        key = (ref.job_id, ref.key)
        chunk = self.chunks.get(key)
        if chunk is None or chunk.done:
            return False
        self.chunks[key] = dataclasses.replace(chunk, done=True)
        return True

    def count_payout_chunk(self, ref: Any, tally: Any, has_next: bool) -> bool:
        from chalicelib.services.payouts import ChunkMoved

        with self._city.lock:
            kept = self.chunks.get((ref.job_id, ref.key))
            if kept is not None and not kept.done and kept.paid != tally.citizens:
                raise ChunkMoved(ref.key)
            if not self._flip(ref):
                return False
            run = self._city.payout_runs[ref.job_id]
            self._city.payout_runs[ref.job_id] = dataclasses.replace(
                run,
                chunks_done=run.chunks_done + 1,
                chunks_expected=run.chunks_expected + (1 if has_next else 0),
                citizens=run.citizens + tally.citizens,
                total_points=run.total_points + tally.points,
                skipped_no_account=run.skipped_no_account + tally.no_account,
                skipped_below_threshold=run.skipped_below_threshold + tally.below_threshold,
            )
            return True

    def mark_ready(self, run_id: str, now: datetime) -> bool:
        with self._city.lock:
            run = self._city.payout_runs[run_id]
            if run.status != "running" or run.chunks_done != run.chunks_expected:
                return False
            self._city.payout_runs[run_id] = dataclasses.replace(run, status="ready", ready_at=now)
            return True

    def settle_paid(self, items: Any, admin_id: str, now: datetime) -> None:
        from chalicelib.services.payouts import SettlementConflict

        with self._city.lock:
            city = self._city
            if any(city.payout_items[(i.run_id, i.citizen_id)].status != "pending" for i in items):
                raise SettlementConflict()
            for i in items:
                city.payout_items[(i.run_id, i.citizen_id)] = dataclasses.replace(
                    i, status="paid", settled_at=now, settled_by=admin_id
                )
            run = city.payout_runs[items[0].run_id]
            city.payout_runs[run.run_id] = dataclasses.replace(
                run,
                paid_items=run.paid_items + len(items),
                paid_points=run.paid_points + sum(i.amount for i in items),
            )

    def mark_settled(self, run_id: str, now: datetime) -> bool:
        with self._city.lock:
            run = self._city.payout_runs[run_id]
            if run.status != "ready" or run.pending_items != 0:
                return False
            self._city.payout_runs[run_id] = dataclasses.replace(
                run, status="settled", settled_at=now
            )
            return True

    def record_action(
        self, run_id: str, action: str, admin_id: str, now: datetime, detail: dict[str, object]
    ) -> None:
        self.actions.append((run_id, action, admin_id, detail))

    def create_audit(self, audit_id: str, admin_id: str, now: datetime, chunks: int) -> None:
        from chalicelib.services.payouts import AuditSummary

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
        import zlib

        ids = sorted(
            c
            for c in self._city.citizens
            if zlib.crc32(c.encode()) % segments == segment and (start is None or c > start)
        )
        page = ids[:limit]
        return page, (page[-1] if len(page) == limit and len(ids) > limit else None)

    def audited(self, citizen_ids: Any) -> dict[str, Any]:
        from chalicelib.domain.payouts import AuditedCitizen

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
            if not self._flip(ref):
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


class MemoryChunkQueue:
    """Chunks sent, delivered only when a test says so (in any order, any number of times)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, chunks: Any) -> None:
        self.sent.extend(chunks)


class FakeSecrets:
    """Reversible, bound to its context like KMS: the wrong citizen cannot decrypt."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        import json

        return base64.b64encode(json.dumps([context, plaintext]).encode()).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        import json

        bound, plaintext = json.loads(base64.b64decode(ciphertext))
        if bound != context:
            raise PermissionError("wrong encryption context")
        return str(plaintext)

    def decrypt_many(self, items: Any) -> list[str]:
        return [self.decrypt(c, ctx) for c, ctx in items]


class MemoryExports:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)
