"""Jobs of chunks in memory: the chunks' kept pages, and a queue a test delivers from."""

from __future__ import annotations

import dataclasses
from typing import Any

from chalicelib.services.chunk_jobs import Chunk, ChunkRef
from tests.fakes.city import MemoryCity


class MemoryChunkJobs:
    """ChunkStore in memory, over the city's chunks (which the ledger's ChunkPaid counts)."""

    def __init__(self, city: MemoryCity) -> None:
        self._city = city

    def chunk(self, ref: ChunkRef) -> Chunk | None:
        found: Chunk | None = self._city.chunks.get((ref.job_id, ref.key))
        return found

    def fix_chunk(
        self, ref: ChunkRef, members: list[str], next_start: str | None
    ) -> tuple[Chunk, bool]:
        with self._city.lock:
            key = (ref.job_id, ref.key)
            if key in self._city.chunks:
                return self._city.chunks[key], False
            self._city.chunks[key] = Chunk(tuple(members), next_start, False)
            return self._city.chunks[key], True


def flip_chunk(city: MemoryCity, ref: ChunkRef) -> bool:
    """Mark a kept chunk counted; False if it is not kept or counted already."""
    key = (ref.job_id, ref.key)
    chunk = city.chunks.get(key)
    if chunk is None or chunk.done:
        return False
    city.chunks[key] = dataclasses.replace(chunk, done=True)
    return True


class MemoryChunkQueue:
    """Chunks sent, delivered only when a test says so (in any order, any number of times)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, chunks: Any) -> None:
        self.sent.extend(chunks)
