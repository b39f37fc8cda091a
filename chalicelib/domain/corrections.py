"""Corrections of a citizen's points (DESIGN §4b): proposed by support, decided by a second
person, and, once approved, posted once as a ledger entry of kind `correction`.

A correction is money: its approval is the one ledger posting (chalicelib.domain.ledger)
carrying `CorrectionApproved`, the effect that moves the correction from `pending` to
`approved` under that condition, and the approver's action-log entry, in one transaction.
So it is posted at most once however many approvals race, and a debit that would take the
balance below zero is refused by the posting itself and stays pending.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from chalicelib.domain import names
from chalicelib.domain.ids import sortable_id
from chalicelib.domain.ledger import Account, Effect, Posting
from chalicelib.domain.roles import check_not_own, check_second_person
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.errors import Unprocessable

MAX_POINTS: Final = 100_000
"""The largest correction either way; more is a payout matter, not a support call."""
REASON: Final = names.TextRule("reason", 200)
REFERENCE: Final = names.TextRule("reference", 100)
NOTE: Final = names.TextRule("note", 500)
STATUSES: Final = ("pending", "approved", "rejected")
REPEAT_WINDOW: Final = timedelta(days=1)
"""The same proposal (same person, citizen, points, reason and reference) made again within
this long is the first one (200 with it): a double submit or a retry after a lost answer
never makes a second. To propose the same again sooner, name another reference."""

Status = Literal["pending", "approved", "rejected"]


@dataclass(frozen=True)
class Correction:
    correction_id: str
    citizen_id: str
    points: int
    reason: str
    reference: str | None
    status: Status
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    """Why it was rejected."""
    entry_id: str | None = None
    """The ledger entry an approval posted."""
    balance_after: int | None = None


@dataclass(frozen=True)
class CorrectionPage:
    corrections: list[Correction]
    next_cursor: str | None


@dataclass(frozen=True)
class CorrectionApproved(Effect):
    """The posting's effect: the correction moves `pending` -> `approved` (and only if its
    proposer is not the approver), naming the entry it posted."""

    correction_id: str
    approver: str


class ProposalRepeated(Exception):
    """The same proposal was made within REPEAT_WINDOW: it is `correction_id`."""

    def __init__(self, correction_id: str) -> None:
        super().__init__(correction_id)
        self.correction_id = correction_id


class CorrectionDecided(Exception):
    """The correction left `pending` before a decision on it was written."""


def valid_points(points: int) -> int:
    """A non-zero whole number of points, at most MAX_POINTS either way (the type, an
    integer and not a bool, is the request's shape: a 400 before this)."""
    if points == 0 or abs(points) > MAX_POINTS:
        raise Unprocessable(
            f"points must be a non-zero integer between -{MAX_POINTS} and {MAX_POINTS}",
            code="invalid_points",
            details=[{"field": "points", "min": -MAX_POINTS, "max": MAX_POINTS}],
        )
    return points


def propose(
    citizen_id: str,
    points: int,
    reason: str,
    reference: str | None,
    proposer: str,
    at: datetime,
) -> Correction:
    """A new pending correction, its texts judged (422 naming the field) and its points
    checked. Nobody proposes a correction of their own account."""
    check_not_own([citizen_id], proposer, "propose a correction of")
    return Correction(
        correction_id=sortable_id(at),
        citizen_id=citizen_id,
        points=valid_points(points),
        reason=names.judged_text(reason, REASON),
        reference=None if reference is None else names.judged_text(reference, REFERENCE),
        status="pending",
        proposed_by=proposer,
        proposed_at=at,
    )


def check_decider(correction: Correction, person: str) -> None:
    """Whoever proposed a correction decides neither way (maker != checker): a proposal
    made in error is rejected by the second person, with a note."""
    check_second_person(correction.proposed_by, person, "a correction")
    check_not_own([correction.citizen_id], person, "decide a correction of")


def proposal_key(correction: Correction) -> str:
    """What makes two proposals the same one (see REPEAT_WINDOW), as a guard key."""
    c = correction
    same = json.dumps([c.proposed_by, c.citizen_id, c.points, c.reason, c.reference])
    return f"correction-proposal#{hashlib.sha256(same.encode('utf-8')).hexdigest()}"


def guard_key(correction_id: str) -> str:
    """The posting's exactly-once key."""
    return f"correction#{correction_id}"


def ledger_detail(correction: Correction) -> dict[str, Any]:
    """What the citizen's ledger shows of it (never the staff's ids)."""
    detail: dict[str, Any] = {
        "correction_id": correction.correction_id,
        "reason": correction.reason,
    }
    if correction.reference is not None:
        detail["reference"] = correction.reference
    return detail


def approval(correction: Correction, account: Account, approver: Actor, at: datetime) -> Posting:
    """The posting an approval writes: InsufficientBalance (from the posting) when a debit
    would take the balance below zero."""
    return Posting(
        guard_key=guard_key(correction.correction_id),
        account=account,
        points=correction.points,
        kind="correction",
        detail=ledger_detail(correction),
        at=at,
        effects=(CorrectionApproved(correction.correction_id, approver.person_id),),
        action=decision_action(correction, approver, "approve", at),
    )


def approved(correction: Correction, posting: Posting) -> Correction:
    approver = posting.effects[0]
    assert isinstance(approver, CorrectionApproved)
    return replace(
        correction,
        status="approved",
        decided_by=approver.approver,
        decided_at=posting.at,
        entry_id=posting.entry_id,
        balance_after=posting.balance_after,
    )


def rejected(correction: Correction, rejecter: str, note: str, at: datetime) -> Correction:
    return replace(correction, status="rejected", decided_by=rejecter, decided_at=at, note=note)


def target(correction_id: str) -> str:
    return f"correction:{correction_id}"


def propose_action(correction: Correction, proposer: Actor) -> StaffAction:
    return new_action(
        proposer,
        "correction.propose",
        target(correction.correction_id),
        correction.proposed_at,
        {
            "citizen_id": correction.citizen_id,
            "points": correction.points,
            "reason": correction.reason,
            **({"reference": correction.reference} if correction.reference else {}),
        },
    )


def decision_action(
    correction: Correction, decider: Actor, verb: str, at: datetime, note: str | None = None
) -> StaffAction:
    detail: dict[str, Any] = {"citizen_id": correction.citizen_id, "points": correction.points}
    if note is not None:
        detail["note"] = note
    return new_action(decider, f"correction.{verb}", target(correction.correction_id), at, detail)
