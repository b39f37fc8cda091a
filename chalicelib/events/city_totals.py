"""The ledger stream handler that keeps the city's totals (every new entry counted once) and
tells citizens of prizes and corrections (chalicelib.events.notifications): the ledger's
stream has two readers already, the most DynamoDB advises."""

from __future__ import annotations

from typing import Any

from chalicelib import wiring
from chalicelib.events.stream_records import gather, ledger_entry_of


def count_ledger_changes(event: Any) -> dict[str, Any]:
    """New ledger entries count in the city's totals, once each. Each record is read alone
    (a record that cannot be read is reported alone); the batch's entries are then counted
    together, one write per totals row instead of one per entry. If that write fails the
    whole batch is retried, which the per-entry guards make safe."""
    response, entries = gather(event, ledger_entry_of)
    if entries:
        counted = wiring.operations().count_ledger_entries(entries)
        wiring.count("LedgerEntriesCounted", counted)
        wiring.count("LedgerEntriesRecounted", len(entries) - counted)
        from chalicelib.events.notifications import ledger_notices

        ledger_notices(entries)
    return response
