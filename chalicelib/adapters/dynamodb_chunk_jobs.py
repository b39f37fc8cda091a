"""DynamoDB adapter for jobs of chunks (chalicelib.services.chunk_jobs.ChunkStore): a chunk's
page kept once, and the one transaction that counts a chunk into its job (a payout run or a
ledger audit)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import timedelta

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters.dynamodb_models import JobChunk
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain import clock
from chalicelib.errors import RetryableConflict
from chalicelib.services.chunk_jobs import Chunk, ChunkRef
from chalicelib.services.payout_runs import ChunkMoved

CHUNK_RETENTION = timedelta(days=60)
CONFLICT_ATTEMPTS = 8


class DynamoDbChunkJobs:
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
            expires=clock.utc_now() + CHUNK_RETENTION,
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


def count_chunk(
    ref: ChunkRef,
    job: Model,
    actions: list[Action],
    paid: Condition | None = None,
    rows: Sequence[Model] = (),
) -> bool:
    """Flip the chunk done and add to its job's counters in one transaction, once (and, for
    a payout chunk, only while its payments are the tallied ones: ChunkMoved otherwise).
    `rows` (a payout chunk's skipped citizens) are put in the same transaction: written
    exactly when the chunk is counted.
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
        for n, row in enumerate(rows):
            tx.put(f"row:{n}", row)
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


def update_if(item: Model, actions: list[Action], condition: Condition) -> bool:
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as e:
        if condition_failed(e):
            return False
        raise
    return True


def _chunk(c: JobChunk) -> Chunk:
    return Chunk(tuple(c.members or ()), c.next_start, bool(c.done), int(c.paid or 0))
