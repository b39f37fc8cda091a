"""Closing an account and following one's payouts, in the city's terms (DESIGN §4c).

A closed account is a tombstone: the citizen's row keeps only what the ledger needs (the
id, the balance, the lifetime totals, the version), the ledger entries stay under the id
alone, and everything that names or reaches the person goes at once (docs/account-closing.md).
Plain values and rules only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

from chalicelib.domain import boards
from chalicelib.domain.ledger import FORFEIT
from chalicelib.errors import NotFound

CLOSED_NAME: Final = "탈퇴한 시민"
"""What a board shows in place of a closed account's display name ("a citizen who left"):
the entry and its score stay (a board's score is the sum of the stored step days, and the
ranks below it and the district totals were earned; invariant 4), the person does not."""

FORFEIT_REASON: Final = "account_closed"


def forfeit_guard(citizen_id: str, version: int) -> str:
    """The forfeit's exactly-once key: one per account version, so a replay of the same
    close posts nothing more (the guard), and a later attempt after a crash between the
    forfeit and the close, at a balance the citizen earned since, is a posting of its own."""
    return f"{FORFEIT}#{citizen_id}#{version}"


def closed_name_key(name_version: int) -> str:
    """The board name key of the erased name: above every key the citizen's own names had
    (a newer profile version), so no replay of a step day brings the name back."""
    return boards.profile_name_key(name_version, CLOSED_NAME)


@dataclass(frozen=True)
class WalkedDay:
    """A stored step day of the citizen: the boards it counts on hold the citizen's name."""

    day: date
    district: str


def named_boards(days: Iterable[WalkedDay], now: datetime) -> list[str]:
    """Every board a citizen's stored step days put a name on and that is still kept (day
    boards 35 days, week boards 400: chalicelib.domain.boards.expires_at), city-wide and in
    the district of each day's first sync."""
    found: dict[str, None] = {}
    for walked in days:
        scope = boards.district_scope(walked.district)
        for period in (boards.day_period(walked.day), boards.week_period(walked.day)):
            if boards.expires_at(period) <= now:
                continue
            for where in (boards.CITY, scope):
                found[boards.board_id(period, where)] = None
    return list(found)


PayoutStatus = Literal["pending", "paid", "failed"]
SkipReason = Literal["no_account", "below_threshold"]


@dataclass(frozen=True)
class MyPayout:
    """A run that paid me: its item (the debit is on my ledger)."""

    run_id: str
    period: str
    points: int
    status: PayoutStatus
    updated_at: datetime

    @property
    def credited_back(self) -> bool:
        """A failed transfer's points came back to my balance (the `payout_reversal`
        posting is written in the same transaction that marks the item failed)."""
        return self.status == "failed"


@dataclass(frozen=True)
class MySkip:
    """A run that skipped me, and why (no payout account, or a balance under the threshold
    by the time my chunk ran)."""

    run_id: str
    period: str
    reason: str
    at: datetime


def period_of_run(run_id: str) -> str:
    """`payout-2026-11` -> `2026-11` (runs are named by the month they close)."""
    return run_id.removeprefix("payout-")


def account_closed() -> NotFound:
    """What every citizen route, and every write racing a close, answers a closed account."""
    return NotFound("this account was closed", code="account_closed")
