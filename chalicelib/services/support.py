"""Citizen support (DESIGN §4b): find the citizen who calls, exactly, by their phone number
or their id, and read their profile and ledger. There is no listing and no partial match: a
number is looked up by its keyed hash, the only form in which it is kept, and is never
shown back or logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from chalicelib.domain.citizens import CitizenCard
from chalicelib.domain.ledger import LedgerPage
from chalicelib.domain.phones import phone_hash
from chalicelib.errors import NotFound


class CitizenCards(Protocol):
    def phone_holder(self, phone_hash: str) -> str | None: ...
    def card(self, citizen_id: str) -> CitizenCard | None: ...


class LedgerReader(Protocol):
    def page(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage: ...


class SupportService:
    def __init__(
        self, cards: CitizenCards, ledger: LedgerReader, phone_key: Callable[[], bytes]
    ) -> None:
        self._cards = cards
        self._ledger = ledger
        self._phone_key = phone_key

    def find_by_phone(self, normalized_number: str) -> list[CitizenCard]:
        """The holder of a number (normalized: chalicelib.domain.phones.normalize_mobile),
        or nobody. Two reads: the link, then the citizen with their payout account."""
        holder = self._cards.phone_holder(phone_hash(normalized_number, self._phone_key()))
        return self.find_by_id(holder) if holder is not None else []

    def find_by_id(self, citizen_id: str) -> list[CitizenCard]:
        card = self._cards.card(citizen_id)
        return [card] if card is not None else []

    def citizen(self, citizen_id: str) -> CitizenCard:
        card = self._cards.card(citizen_id)
        if card is None:
            raise NotFound("no such citizen", code="citizen_not_found")
        return card

    def ledger(self, citizen_id: str, limit: int, cursor: str | None) -> LedgerPage:
        """The citizen's ledger, newest first (the citizen's own shape). An empty first page
        checks the citizen exists: an unknown id is a 404, not an empty ledger."""
        page = self._ledger.page(citizen_id, limit, cursor)
        if not page.entries and cursor is None:
            self.citizen(citizen_id)
        return page
