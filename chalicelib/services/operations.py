"""What operators and admins see: refused messages, parked failures, the city's totals;
and keeping those totals from the ledger's stream."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from chalicelib.domain import totals
from chalicelib.domain.ledger import LedgerEntry
from chalicelib.domain.operations import ParkedMessages, QuarantinePage
from chalicelib.domain.totals import Counted, Totals
from chalicelib.services.ports import Quarantine


class QuarantineStore(Quarantine, Protocol):
    def newest(self, source: str, limit: int, cursor: str | None = None) -> QuarantinePage: ...


class DeadLetters(Protocol):
    def depths(self) -> list[ParkedMessages]: ...


class TotalsStore(Protocol):
    def add_once(self, entries: list[Counted]) -> int:
        """Count each entry in its rows unless its guard says it was counted; returns how
        many were counted now."""
        ...

    def read(self, periods: tuple[str, ...]) -> dict[str, Totals]: ...


class OperationsService:
    def __init__(
        self, quarantine: QuarantineStore, dead_letters: DeadLetters, totals: TotalsStore
    ) -> None:
        self._quarantine = quarantine
        self._dead_letters = dead_letters
        self._totals = totals

    def quarantined(self, source: str, limit: int, cursor: str | None = None) -> QuarantinePage:
        """Refused messages of one source, newest first; a cursor only continues that source."""
        return self._quarantine.newest(source, limit, cursor)

    def keep_rule_failure(
        self, *, device_id: str | None, details: str, payload: str | None
    ) -> None:
        """An IoT rule could not deliver a device's message: keep it, with why, for admins."""
        self._quarantine.quarantine(
            source="rule-errors",
            reason="rule_action_failed",
            device_id=device_id,
            event_id=None,
            details=details,
            payload=payload,
        )

    def parked(self) -> list[ParkedMessages]:
        return self._dead_letters.depths()

    def city_totals(self, today: date) -> tuple[Totals, Totals]:
        """All-time totals and today's (Seoul)."""
        day = totals.day_period(today)
        found = self._totals.read((totals.ALL_TIME, day))
        return (
            found.get(totals.ALL_TIME, Totals(totals.ALL_TIME)),
            found.get(day, Totals(day)),
        )

    def count_ledger_entries(self, entries: list[LedgerEntry]) -> int:
        """Count new ledger entries in the totals once each, however often and in whatever
        order their records arrive; returns how many were counted now."""
        return self._totals.add_once([totals.counted(entry) for entry in entries])
