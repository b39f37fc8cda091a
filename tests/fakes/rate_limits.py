"""Fixed-window rate limits in memory."""

from __future__ import annotations

from datetime import datetime


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, int]] = {}

    def acquire(self, key: str, limit: int, window_s: int, now: datetime) -> bool:
        start = int(now.timestamp()) // window_s * window_s
        window, uses = self._windows.get(key, (start, 0))
        if window != start:
            window, uses = start, 0
        if uses >= limit:
            return False
        self._windows[key] = (window, uses + 1)
        return True
