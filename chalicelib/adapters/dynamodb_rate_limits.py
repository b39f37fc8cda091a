"""DynamoDB adapter: fixed-window rate limits, enforced with conditional writes only."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamodb_models import RateWindow
from chalicelib.adapters.dynamodb_transactions import condition_failed


class DynamoDbRateLimiter:
    def acquire(self, key: str, limit: int, window_s: int, now: datetime) -> bool:
        """Count one use of `key` in the current window; False when the window is full."""
        start = int(now.timestamp()) // window_s * window_s
        item = RateWindow(key)
        # Two tries each way: a concurrent caller may open the new window between ours.
        for _ in range(2):
            try:
                item.update(
                    actions=[RateWindow.uses.add(1)],
                    condition=(RateWindow.window_start == start) & (RateWindow.uses < limit),
                )
                return True
            except UpdateError as e:
                if not condition_failed(e):
                    raise
            try:
                item.update(
                    actions=[
                        RateWindow.window_start.set(start),
                        RateWindow.uses.set(1),
                        RateWindow.expires.set(now + timedelta(seconds=2 * window_s)),
                    ],
                    condition=RateWindow.window_key.does_not_exist()
                    | (RateWindow.window_start < start),
                )
                return True
            except UpdateError as e:
                if not condition_failed(e):
                    raise
        return False
