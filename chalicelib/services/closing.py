"""Closing an account (DESIGN §4c, Korea's personal-information law: the right to erasure)
and a citizen's payouts (`GET /v1/me/payouts`).

What goes at once: the display name (profile, step days, every board still kept), the
district, the phone link, the payout account with its encrypted number, the push tokens.
What stays: the ledger under the citizen id alone, and the tombstone row the audit checks
it against (balance, lifetime totals). Points left are refused unless forfeited by a
`forfeit` posting. docs/account-closing.md has the reasons, races and costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from chalicelib.domain import closing
from chalicelib.domain.citizens import Citizen
from chalicelib.domain.clock import Clock
from chalicelib.domain.ledger import AlreadyPosted, PostedResult, Posting
from chalicelib.errors import Conflict, NotFound, RetryableConflict

ATTEMPTS = 5


class ClosingStore(Protocol):
    def citizen(self, citizen_id: str) -> Citizen | None: ...
    def is_closed(self, citizen_id: str) -> bool: ...
    def payouts(self, citizen_id: str) -> tuple[list[closing.MyPayout], list[closing.MySkip]]: ...
    def pending_runs(self, citizen_id: str) -> list[str]: ...
    def close(self, citizen: Citizen, now: datetime) -> None: ...
    def erase_payout_account(self, citizen_id: str) -> None: ...
    def walked_days(self, citizen_id: str) -> list[closing.WalkedDay]: ...
    def erase_day_names(
        self, citizen_id: str, days: list[closing.WalkedDay], name_version: int
    ) -> int: ...


class LedgerWriter(Protocol):
    def post(self, posting: Posting) -> PostedResult: ...


class BoardNames(Protocol):
    def rename(self, board: str, citizen_id: str, display_name: str, name_key: str) -> bool: ...


class PersonalInbox(Protocol):
    """The citizen's push tokens (with their SNS endpoints) and inbox notifications, both
    personal data erased at the close (chalicelib.services.notifications). Each answers how
    many items it removed and is idempotent: a repeated close calls it again."""

    def erase_push_tokens(self, citizen_id: str) -> int: ...
    def erase_notifications(self, citizen_id: str) -> int: ...


@dataclass(frozen=True)
class Closed:
    citizen_id: str
    closed_at: datetime
    points_forfeited: int
    boards_renamed: int


class ClosingService:
    def __init__(
        self,
        store: ClosingStore,
        ledger: LedgerWriter,
        boards: BoardNames,
        inbox: PersonalInbox,
        clock: Clock,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._boards = boards
        self._inbox = inbox
        self._clock = clock

    def is_closed(self, citizen_id: str) -> bool:
        return self._store.is_closed(citizen_id)

    def payouts(self, citizen_id: str) -> tuple[list[closing.MyPayout], list[closing.MySkip]]:
        return self._store.payouts(citizen_id)

    def close(self, citizen_id: str, forfeit_points: bool) -> Closed:
        """Close the account, forfeiting a positive balance only when asked. A close already
        done erases what it erased once more (idempotent: a request cut short after the
        tombstone finishes here) and answers 404 `account_closed`."""
        forfeited = 0
        for attempt in range(ATTEMPTS):
            citizen = self._store.citizen(citizen_id)
            if citizen is None:
                raise NotFound("register first with PUT /v1/me", code="not_registered")
            if citizen.closed:
                self._erase_rest(citizen)
                raise closing.account_closed()
            self._refuse_pending_payouts(citizen_id)
            now = self._clock()
            if citizen.balance > 0:
                if not forfeit_points:
                    raise Conflict(
                        "the account still holds points: wait for a payout, or close with"
                        ' {"forfeit_points": true} to give them up',
                        code="balance_remaining",
                        details=[{"balance": citizen.balance}],
                    )
                forfeited += self._forfeit(citizen, now)
                continue  # read the account again: its balance is 0 now
            try:
                self._store.close(citizen, now)
            except RetryableConflict:
                # A deposit, a prize or a rename moved the account meanwhile: read it again
                # (the balance it holds now is refused, or forfeited, like any other).
                time.sleep(0.01 * 2**attempt)
                continue
            closed = tombstone(citizen, now)
            renamed = self._erase_rest(closed)
            return Closed(citizen_id, now, forfeited, renamed)
        raise Conflict("the account is changing too often; try again", code="retry")

    def _forfeit(self, citizen: Citizen, now: datetime) -> int:
        """The `forfeit` posting of the whole balance, once per account version (its guard
        and the version condition are in the posting's own transaction)."""
        posting = Posting(
            guard_key=closing.forfeit_guard(citizen.citizen_id, citizen.version),
            account=citizen.account,
            points=-citizen.balance,
            kind="forfeit",
            detail={"reason": closing.FORFEIT_REASON},
            at=now,
        )
        try:
            self._ledger.post(posting)
        except (AlreadyPosted, RetryableConflict):
            return 0  # posted by a concurrent close, or the account moved: read again
        return citizen.balance

    def _refuse_pending_payouts(self, citizen_id: str) -> None:
        """A payout debited and not yet settled may fail, and its points would come back to
        the account: settle it first (finance settles a run within days)."""
        pending = self._store.pending_runs(citizen_id)
        if pending:
            raise Conflict(
                "a payout to this account is being transferred; close the account once it"
                " is settled",
                code="payout_pending",
                details=[{"run_id": run_id} for run_id in pending],
            )

    def _erase_rest(self, citizen: Citizen) -> int:
        """Everything erased after the tombstone, each idempotent: the payout account (again:
        a save may have raced the close), the name on every step day and board still kept,
        the push tokens and the notifications. Returns how many board entries showed the
        erased name now."""
        self._store.erase_payout_account(citizen.citizen_id)
        days = self._store.walked_days(citizen.citizen_id)
        version = citizen.name_version
        self._store.erase_day_names(citizen.citizen_id, days, version)
        key = closing.closed_name_key(version)
        renamed = sum(
            self._boards.rename(board, citizen.citizen_id, closing.CLOSED_NAME, key)
            for board in closing.named_boards(days, self._clock())
        )
        self._inbox.erase_push_tokens(citizen.citizen_id)
        self._inbox.erase_notifications(citizen.citizen_id)
        return renamed


def tombstone(citizen: Citizen, now: datetime) -> Citizen:
    """The tombstone as the close wrote it (chalicelib.adapters.dynamodb_closing.close)."""
    return replace(
        citizen,
        display_name="",
        phone_hash=None,
        name_version=citizen.name_version + 1,
        closed_at=now,
        updated_at=now,
        version=citizen.version + 1,
    )
