"""The state the in-memory fakes share, as the tables do, and their cursor encoding."""

from __future__ import annotations

import base64
import dataclasses
import threading
from datetime import datetime
from typing import Any

from chalicelib.domain.citizens import Citizen
from chalicelib.domain.ledger import (
    Account,
    LedgerEntry,
    PostedResult,
)
from chalicelib.domain.payout_runs import PayoutItem, RunSummary
from chalicelib.domain.recycling import CodeRecord
from chalicelib.domain.staff_actions import StaffAction
from chalicelib.errors import BadRequest


@dataclasses.dataclass
class _Code:
    record: CodeRecord
    reserved_until: datetime
    account: Account | None


class MemoryCity:
    """The state the fakes share, as the tables do."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.citizens: dict[str, Citizen] = {}
        self.links: dict[str, str] = {}
        self.link_snapshots: dict[str, tuple[int, int]] = {}
        self.codes: dict[str, _Code] = {}
        self.guards: dict[str, PostedResult] = {}
        self.entries: dict[str, list[LedgerEntry]] = {}
        self.days: dict[tuple[str, str], int] = {}
        self.eligible: set[str] = set()
        self.payout_items: dict[tuple[str, str], PayoutItem] = {}
        self.payout_runs: dict[str, RunSummary] = {}
        self.chunks: dict[tuple[str, str], Any] = {}
        self.staff_actions: list[StaffAction] = []
        """The action log: entries written with their write (a posting's, a run's)."""


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest("the cursor is not valid", code="invalid_cursor") from e
