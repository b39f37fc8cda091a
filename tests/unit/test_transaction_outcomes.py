"""How a cancelled transaction is read (one reader for every adapter): only a failed
condition means "already done" or "code used"; anything else (a conflicting transaction,
throttling) is retried."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb_transactions import failed_conditions
from chalicelib.errors import RetryableConflict

ORDER = ["guard", "ledger", "account", "effect0", "effect1"]


class _Cancelled(Exception):
    """Shaped like PynamoDB's TransactWriteError as _failed_items reads it."""

    cause_response_code = "TransactionCanceledException"

    def __init__(self, reasons: list[Any]) -> None:
        super().__init__("cancelled")
        self.cancellation_reasons = reasons


def _cancelled(*codes: str | None) -> Any:
    return _Cancelled([SimpleNamespace(code=c) if c else None for c in codes])


def test_a_failed_guard_condition_names_the_guard() -> None:
    error = _cancelled("ConditionalCheckFailed", "None", "None", "None", "None")
    assert failed_conditions(error, ORDER) == {"guard"}


def test_a_used_code_and_a_moved_version_are_conditions() -> None:
    error = _cancelled(None, None, "ConditionalCheckFailed", None, "ConditionalCheckFailed")
    assert failed_conditions(error, ORDER) == {"account", "effect1"}


@pytest.mark.parametrize("transient", ["TransactionConflict", "ThrottlingError"])
def test_transient_cancellations_are_retried_not_read_as_conditions(transient: str) -> None:
    # GIVEN the code item was cancelled only because another transaction touched it
    error = _cancelled(None, None, None, None, transient)
    # THEN it is a conflict to retry, never "code used"
    with pytest.raises(RetryableConflict):
        failed_conditions(error, ORDER)


def test_a_conflict_without_reasons_is_retried() -> None:
    error = _Cancelled([])
    error.cause_response_code = "TransactionConflictException"
    with pytest.raises(RetryableConflict):
        failed_conditions(error, ORDER)


def test_reasons_that_do_not_line_up_are_retried() -> None:
    # GIVEN fewer reasons than items: no reason can be attributed to an item
    error = _cancelled("ConditionalCheckFailed", None)
    # THEN nothing is read as "already done" or "code used"
    with pytest.raises(RetryableConflict):
        failed_conditions(error, ORDER)
