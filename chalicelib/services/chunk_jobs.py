"""Jobs of chunks: how a payout run and a ledger audit work through the citizens a page at a
time, through a queue, each page exactly once.

A chunk is one page (of one eligibility bucket, or of one scan segment) whose members are
fixed the first time it runs, so a redelivered or re-run chunk works on the same citizens,
names the same next chunk, and is counted once (its `done` flag flips in the same
transaction as the job's counters). A job is finished when its counted chunks reach its
expected ones: each chunk that has a next page adds one to `expected` in the transaction
that counts itself, so the two only meet when the last page is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class ChunkRef:
    """A chunk of a job: `part` is a payout bucket (`"07"`) or an audit scan segment (`"7"`);
    `start` the last member of the page before it (None: the part's first page)."""

    job: Literal["payout", "audit"]
    job_id: str
    part: str
    start: str | None = None

    @property
    def key(self) -> str:
        return f"{self.part}#{self.start or ''}"


@dataclass(frozen=True)
class Chunk:
    members: tuple[str, ...]
    next_start: str | None
    done: bool
    paid: int = 0


class ChunkStore(Protocol):
    def chunk(self, ref: ChunkRef) -> Chunk | None: ...

    def fix_chunk(
        self, ref: ChunkRef, members: list[str], next_start: str | None
    ) -> tuple[Chunk, bool]:
        """Keep the chunk's page unless one is kept already; answer the kept one, and
        whether this call kept it."""
        ...


class ChunkQueue(Protocol):
    def send(self, chunks: Sequence[ChunkRef]) -> None: ...
