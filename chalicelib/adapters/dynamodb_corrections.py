"""DynamoDB adapter for corrections: a proposal with its action-log entry (one transaction,
conditioned on the citizen existing), the queue by status (one Query on the `by-status`
index), and a rejection with its entry. An approval is a ledger posting
(chalicelib.adapters.dynamodb_ledger), whose `CorrectionApproved` effect moves the row."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.dynamodb_cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb_models import Citizen, ProcessedEvent
from chalicelib.adapters.dynamodb_models import Correction as Item
from chalicelib.adapters.dynamodb_staff_actions import put_in
from chalicelib.adapters.dynamodb_transactions import ConditionsFailed, NamedTransaction
from chalicelib.domain.corrections import (
    REPEAT_WINDOW,
    Correction,
    CorrectionDecided,
    CorrectionPage,
    ProposalRepeated,
    Status,
    proposal_key,
)
from chalicelib.domain.staff_actions import RETENTION, StaffAction
from chalicelib.errors import NotFound, RetryableConflict


class DynamoDbCorrections:
    @staticmethod
    def propose(correction: Correction, action: StaffAction) -> None:
        """The correction, its action and the proposal's repeat guard, in one transaction
        conditioned on the citizen. Raises NotFound (`citizen_not_found`) when no such
        citizen is registered, ProposalRepeated when the same proposal was made within
        REPEAT_WINDOW (TTL deletes lag: an expired guard counts as absent)."""
        at = correction.proposed_at
        key = proposal_key(correction)
        tx = NamedTransaction()
        tx.check("citizen", Citizen, correction.citizen_id, Citizen.citizen_id.exists())
        tx.put(
            "proposal",
            ProcessedEvent(
                key,
                status="proposed",
                citizen_id=correction.citizen_id,
                points=correction.points,
                entry_id=correction.correction_id,
                processed_at=at,
                expires=at + REPEAT_WINDOW,
            ),
            ProcessedEvent.event_key.does_not_exist() | (ProcessedEvent.expires < at),
        )
        tx.put("correction", to_item(correction), Item.correction_id.does_not_exist())
        put_in(tx, action)
        try:
            tx.commit()
        except ConditionsFailed as e:
            if "citizen" in e.names:
                raise NotFound("no such citizen", code="citizen_not_found") from e
            if "proposal" in e.names:
                first = ProcessedEvent.get(key, consistent_read=True)
                if first.entry_id:
                    raise ProposalRepeated(first.entry_id) from e
            raise RetryableConflict(f"propose: {sorted(e.names)}") from e

    @staticmethod
    def get(correction_id: str) -> Correction | None:
        try:
            return from_item(Item.get(correction_id, consistent_read=True))
        except DoesNotExist:
            return None

    @staticmethod
    def reject(correction: Correction, action: StaffAction) -> None:
        """`correction` as rejected; raises CorrectionDecided when it is no longer pending."""
        assert correction.decided_by is not None and correction.decided_at is not None
        assert correction.note is not None
        tx = NamedTransaction()
        tx.update(
            "correction",
            Item(correction.correction_id),
            [
                Item.status.set("rejected"),
                Item.decided_by.set(correction.decided_by),
                Item.decided_at.set(correction.decided_at),
                Item.note.set(correction.note),
            ],
            (Item.status == "pending") & (Item.proposed_by != correction.decided_by),
            versioned=False,
        )
        put_in(tx, action)
        try:
            tx.commit()
        except ConditionsFailed as e:
            if "correction" in e.names:
                raise CorrectionDecided(correction.correction_id) from e
            raise RetryableConflict(f"reject: {sorted(e.names)}") from e

    @staticmethod
    def page(status: Status, limit: int, cursor: str | None) -> CorrectionPage:
        """One status's corrections, newest first; a cursor continues only that status."""
        start = (
            decode_cursor(cursor, hash_attr="status", hash_value=status, range_attr="correction_id")
            if cursor
            else None
        )
        results = Item.by_status.query(
            status, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        found = [from_item(item) for item in results]
        last = results.last_evaluated_key
        return CorrectionPage(
            found,
            encode_cursor({"status": last["status"], "correction_id": last["correction_id"]})
            if last and len(found) == limit
            else None,
        )


def to_item(c: Correction) -> Item:
    return Item(
        c.correction_id,
        citizen_id=c.citizen_id,
        points=c.points,
        reason=c.reason,
        reference=c.reference,
        status=c.status,
        proposed_by=c.proposed_by,
        proposed_at=c.proposed_at,
        expires=c.proposed_at + RETENTION,
    )


def from_item(item: Item) -> Correction:
    return Correction(
        correction_id=item.correction_id,
        citizen_id=item.citizen_id,
        points=int(item.points),
        reason=item.reason,
        reference=item.reference,
        status=item.status,  # type: ignore[arg-type]
        proposed_by=item.proposed_by,
        proposed_at=item.proposed_at,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        note=item.note,
        entry_id=item.entry_id,
        balance_after=None if item.balance_after is None else int(item.balance_after),
    )
