"""SQS adapter: the chunks of payout runs and ledger audits, each kind on its own queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from chalicelib import queues
from chalicelib.adapters import aws_clients
from chalicelib.services.chunk_jobs import ChunkRef

BATCH = 10
"""SendMessageBatch's limit."""


@cache
def _url(name: str) -> str:
    return str(aws_clients.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def chunk_message(ref: ChunkRef) -> str:
    return json.dumps({"job_id": ref.job_id, "part": ref.part, "start": ref.start})


def chunk_from_message(job: str, body: str) -> ChunkRef:
    """A chunk from its message; ValueError for anything else (the record then fails and, on
    its last receive, lands in the dead-letter queue)."""
    raw: Any = json.loads(body)
    if not isinstance(raw, dict):
        raise ValueError("a chunk message is a JSON object")
    job_id, part, start = raw.get("job_id"), raw.get("part"), raw.get("start")
    if not isinstance(job_id, str) or not isinstance(part, str):
        raise ValueError("a chunk names its job_id and part")
    if start is not None and not isinstance(start, str):
        raise ValueError("a chunk's start is a string")
    if job not in ("payout", "audit"):
        raise ValueError(f"no job {job!r}")
    return ChunkRef(job, job_id, part, start)  # type: ignore[arg-type]


class SqsChunkQueue:
    def send(self, chunks: Sequence[ChunkRef]) -> None:
        sqs = aws_clients.client("sqs")
        for start in range(0, len(chunks), BATCH):
            batch = chunks[start : start + BATCH]
            spec = queues.PAYOUT_CHUNKS if batch[0].job == "payout" else queues.AUDIT_CHUNKS
            if any(c.job != batch[0].job for c in batch):
                raise ValueError("one kind of chunk per batch")
            response = sqs.send_message_batch(
                QueueUrl=_url(spec.name),
                Entries=[
                    {"Id": str(i), "MessageBody": chunk_message(c)} for i, c in enumerate(batch)
                ],
            )
            if response.get("Failed"):
                raise RuntimeError(f"chunks not sent: {response['Failed']}")
