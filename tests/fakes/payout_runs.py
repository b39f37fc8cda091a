"""Payout runs, their items and their transfer files, in memory."""

from __future__ import annotations

import dataclasses
import zlib
from datetime import datetime
from typing import Any

from chalicelib.domain.ledger import Account
from chalicelib.domain.payout_runs import (
    PayoutItem,
    RunPage,
    RunSummary,
    Skipped,
    SkippedPage,
    SkipReason,
)
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.services.payout_runs import ChunkMoved, Payee, RunExists, SettlementConflict
from tests.fakes.chunk_jobs import flip_chunk
from tests.fakes.city import MemoryCity
from tests.fakes.payout_accounts import MemoryPayoutAccounts


def payout_bucket(citizen_id: str) -> str:
    return f"{zlib.crc32(citizen_id.encode('utf-8')) % 16:02d}"


class MemoryPayoutRuns:
    """PayoutRunStore in memory, over the city the MemoryLedger writes and the payout
    accounts a payee is paid to."""

    def __init__(self, city: MemoryCity, accounts: MemoryPayoutAccounts) -> None:
        self._city = city
        self._accounts = accounts
        self.actions: list[StaffAction] = city.staff_actions
        """The city's action log (the ledger appends a posting's entry to it too)."""
        self.skips: dict[tuple[str, str], Skipped] = {}

    def create_run(self, run: RunSummary, action: StaffAction) -> None:
        with self._city.lock:
            if run.run_id in self._city.payout_runs:
                raise RunExists(self._city.payout_runs[run.run_id])
            self._city.payout_runs[run.run_id] = run
            self.actions.append(action)

    def runs_page(self, limit: int, after: str | None) -> RunPage:
        runs = sorted(self._city.payout_runs.values(), key=lambda r: r.period, reverse=True)
        runs = [r for r in runs if after is None or r.period < after]
        page = runs[:limit]
        return RunPage(page, page[-1].period if len(runs) > limit else None)

    def skipped_page(
        self, run_id: str, reason: SkipReason | None, limit: int, after: str | None
    ) -> SkippedPage:
        keys = sorted(
            k
            for (r, k) in self.skips
            if r == run_id
            and (reason is None or k.startswith(f"{reason}#"))
            and (after is None or k > after)
        )
        page = keys[:limit]
        return SkippedPage(
            [self.skips[(run_id, k)] for k in page], page[-1] if len(keys) > limit else None
        )

    def approve(self, run_id: str, action: StaffAction) -> bool:
        with self._city.lock:
            run = self._city.payout_runs[run_id]
            if run.status != "ready":
                return False
            self._city.payout_runs[run_id] = dataclasses.replace(
                run, status="approved", approved_at=action.at, approved_by=action.actor
            )
            self.actions.append(action)
            return True

    def record_export(self, run_id: str, fmt: str, sha256: str, action: StaffAction) -> None:
        with self._city.lock:
            run = self._city.payout_runs[run_id]
            if run.exports.get(fmt, sha256) != sha256:
                raise AssertionError("a kept file changed")
            exports = {**run.exports, fmt: sha256}
            self._city.payout_runs[run_id] = dataclasses.replace(run, exports=exports)
            self.actions.append(action)

    def run(self, run_id: str) -> RunSummary | None:
        return self._city.payout_runs.get(run_id)

    def all_runs(self) -> list[RunSummary]:
        return list(self._city.payout_runs.values())

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
        out = {}
        for c in citizen_ids:
            citizen = self._city.citizens.get(c)
            item = self._city.payout_items.get((run_id, c)) if with_items else None
            out[c] = Payee(citizen.account if citizen else None, self._accounts.account(c), item)
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

    def count_payout_chunk(self, ref: Any, tally: Any, has_next: bool) -> bool:
        with self._city.lock:
            kept = self._city.chunks.get((ref.job_id, ref.key))
            if kept is not None and not kept.done and kept.paid != tally.citizens:
                raise ChunkMoved(ref.key)
            if not flip_chunk(self._city, ref):
                return False
            for skip in tally.skipped:
                self.skips[(ref.job_id, f"{skip.reason}#{skip.citizen_id}")] = skip
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

    def settle_paid(self, settled: Any, now: datetime) -> None:
        with self._city.lock:
            city = self._city
            items = [i for i, _ in settled]
            if any(city.payout_items[(i.run_id, i.citizen_id)].status != "pending" for i in items):
                raise SettlementConflict()
            for i, action in settled:
                city.payout_items[(i.run_id, i.citizen_id)] = dataclasses.replace(
                    i, status="paid", settled_at=now, settled_by=action.actor
                )
                self.actions.append(action)
            run = city.payout_runs[items[0].run_id]
            city.payout_runs[run.run_id] = dataclasses.replace(
                run,
                paid_items=run.paid_items + len(items),
                paid_points=run.paid_points + sum(i.amount for i in items),
            )

    def mark_settled(self, run_id: str, now: datetime) -> bool:
        with self._city.lock:
            run = self._city.payout_runs[run_id]
            if run.status != "approved" or run.pending_items != 0:
                return False
            self._city.payout_runs[run_id] = dataclasses.replace(
                run, status="settled", settled_at=now
            )
            return True


class MemoryExports:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)
