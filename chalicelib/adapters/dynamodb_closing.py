"""DynamoDB adapter for closing accounts and for a citizen's payouts
(chalicelib.services.closing.ClosingStore).

The close is ONE TransactWriteItems: the citizen's row becomes a tombstone under its
version (a posting racing it fails its version condition and reads the closed account),
the phone link and the payout account are deleted. The names on step days and boards are
erased after it, idempotently (a repeated DELETE does it again).
"""

from __future__ import annotations

from datetime import date, datetime

from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
from chalicelib.adapters.dynamodb_models import (
    Citizen,
    PayoutAccount,
    PayoutItem,
    PayoutSkip,
    PhoneLink,
    StepDay,
)
from chalicelib.adapters.dynamodb_transactions import (
    ConditionsFailed,
    NamedTransaction,
    condition_failed,
)
from chalicelib.domain.citizens import Citizen as CitizenValue
from chalicelib.domain.closing import CLOSED_NAME, MyPayout, MySkip, WalkedDay, period_of_run
from chalicelib.errors import RetryableConflict


def save_while_open(citizen_id: str, item: Model) -> bool:
    """Save `item` (personal data the close erases: a push token, a payout account) on
    condition that the citizen's account is not closed, in one transaction: a write racing
    the close cannot keep what the close already erased. False: closed, nothing saved."""
    tx = NamedTransaction()
    tx.check("open", Citizen, citizen_id, Citizen.closed_at.does_not_exist())
    tx.put("item", item)
    try:
        tx.commit()
    except ConditionsFailed as e:
        if "open" in e.names:
            return False
        raise
    return True


class DynamoDbClosing:
    def __init__(self) -> None:
        self._citizens = DynamoDbCitizens()

    def citizen(self, citizen_id: str) -> CitizenValue | None:
        """One strongly consistent GetItem."""
        return self._citizens.get(citizen_id)

    def is_closed(self, citizen_id: str) -> bool:
        """Whether the citizen closed the account: one strongly consistent GetItem of the
        tombstone mark alone (the check every citizen route makes, chalicelib.api.http)."""
        try:
            found = Citizen.get(citizen_id, consistent_read=True, attributes_to_get=["closed_at"])
        except Citizen.DoesNotExist:
            return False
        return found.closed_at is not None

    def payouts(self, citizen_id: str) -> tuple[list[MyPayout], list[MySkip]]:
        """My payout items and skips, newest run first: one Query of each table's
        `by-citizen` index (a run a month, kept five years: one page each)."""
        items = [
            MyPayout(
                run_id=i.run_id,
                period=i.period,
                points=int(i.amount),
                status=i.status,  # type: ignore[arg-type]  # written by the payout runs
                updated_at=i.settled_at or i.created_at,
            )
            for i in PayoutItem.by_citizen.query(citizen_id, scan_index_forward=False)
        ]
        skips = [
            MySkip(s.run_id, period_of_run(s.run_id), s.reason, s.at)
            for s in PayoutSkip.by_citizen.query(citizen_id, scan_index_forward=False)
        ]
        return items, skips

    def pending_runs(self, citizen_id: str) -> list[str]:
        """The runs whose transfer to the citizen is not settled yet: one Query of the
        items' `by-citizen` index (eventually consistent, as an index is: a payout debited
        in the very last instant may be missed; docs/account-closing.md says what then)."""
        return [
            i.run_id
            for i in PayoutItem.by_citizen.query(
                citizen_id, filter_condition=PayoutItem.status == "pending"
            )
        ]

    def close(self, citizen: CitizenValue, now: datetime) -> None:
        """The tombstone (name, phone and payout bucket gone; district, balance, lifetime
        totals and version kept), the phone link and the payout account, in one transaction.
        Raises RetryableConflict when the account moved since `citizen` was read (a posting,
        a rename, a phone link)."""
        tx = NamedTransaction()
        row = Citizen(citizen.citizen_id, version=citizen.version)
        tx.update(
            "citizen",
            row,
            [
                Citizen.display_name.set(""),
                Citizen.phone_hash.remove(),
                Citizen.payout_bucket.remove(),
                Citizen.name_version.set(citizen.name_version + 1),
                Citizen.closed_at.set(now),
                Citizen.updated_at.set(now),
            ],
            Citizen.closed_at.does_not_exist() & (Citizen.balance == 0),
        )
        if citizen.phone_hash:
            tx.delete(
                "link",
                PhoneLink(citizen.phone_hash),
                PhoneLink.citizen_id.does_not_exist()
                | (PhoneLink.citizen_id == citizen.citizen_id),
            )
        tx.delete("payout_account", PayoutAccount(citizen.citizen_id))
        try:
            tx.commit()
        except ConditionsFailed as e:
            raise RetryableConflict(f"close {citizen.citizen_id}: {sorted(e.names)}") from e

    def erase_payout_account(self, citizen_id: str) -> None:
        """Again, for a payout account saved by a request that passed its check just before
        the close committed (a repeated DELETE erases it)."""
        PayoutAccount(citizen_id).delete()

    def walked_days(self, citizen_id: str) -> list[WalkedDay]:
        """The citizen's stored step days (kept 400 days): one Query of keys and district."""
        return [
            WalkedDay(date.fromisoformat(d.day), d.district)
            for d in StepDay.query(  # strongly: a day synced a moment before is renamed too
                citizen_id, attributes_to_get=["day", "district"], consistent_read=True
            )
        ]

    def erase_day_names(self, citizen_id: str, days: list[WalkedDay], name_version: int) -> int:
        """The erased name on each stored step day (the day keeps its count and district: the
        boards' scores are their sums), at a newer name version than any the citizen had, so
        the steps' stream carries the erased name to every board too. One conditional
        UpdateItem per day still holding another name; returns how many changed."""
        changed = 0
        for walked in days:
            try:
                StepDay(citizen_id, walked.day.isoformat()).update(
                    actions=[
                        StepDay.display_name.set(CLOSED_NAME),
                        StepDay.name_version.set(name_version),
                    ],
                    condition=StepDay.day.exists() & (StepDay.display_name != CLOSED_NAME),
                )
            except UpdateError as e:
                if not condition_failed(e):
                    raise
                continue
            changed += 1
        return changed
