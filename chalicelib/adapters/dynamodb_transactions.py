"""TransactWriteItems with named items, and the one reader of failed conditions: of a
transaction's cancellations (`NamedTransaction`) and of a single write's (`condition_failed`).

DynamoDB answers a cancelled transaction with one reason per item, in the order the items
were sent; PynamoDB sends condition checks, then deletes, then puts, then updates. Naming
each item keeps that bookkeeping here: a caller learns which of its items' conditions
failed, and any other cancellation (a conflicting transaction, throttling) is transient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import aws_clients
from chalicelib.errors import RetryableConflict

CONDITION_FAILED = "ConditionalCheckFailed"
_WRITE_CONDITION_FAILED = "ConditionalCheckFailedException"
_CANCELLED = ("TransactionCanceledException", "TransactionConflictException")
_PHASES = ("check", "delete", "put", "update")


def condition_failed(error: PynamoDBException) -> bool:
    """Whether a single write (PynamoDB's PutError, UpdateError, DeleteError) was refused
    because its condition did not hold, rather than failed."""
    return error.cause_response_code == _WRITE_CONDITION_FAILED


class ConditionsFailed(Exception):
    """The named items whose condition failed; nothing of the transaction was written."""

    def __init__(self, names: set[str]) -> None:
        super().__init__(f"conditions failed: {sorted(names)}")
        self.names = names


class NamedTransaction:
    def __init__(self) -> None:
        self._steps: dict[str, list[tuple[str, Callable[[TransactWrite], None]]]] = {
            phase: [] for phase in _PHASES
        }

    def check(self, name: str, model: type[Model], hash_key: str, condition: Condition) -> None:
        self._steps["check"].append(
            (name, lambda tx: tx.condition_check(model, hash_key, condition=condition))
        )

    def put(self, name: str, item: Model, condition: Condition | None = None) -> None:
        self._steps["put"].append((name, lambda tx: tx.save(item, condition=condition)))

    def update(
        self,
        name: str,
        item: Model,
        actions: list[Action],
        condition: Condition | None = None,
        *,
        versioned: bool = True,
    ) -> None:
        self._steps["update"].append(
            (
                name,
                lambda tx: tx.update(
                    item, actions=actions, condition=condition, add_version_condition=versioned
                ),
            )
        )

    def delete(self, name: str, item: Model, condition: Condition | None = None) -> None:
        self._steps["delete"].append((name, lambda tx: tx.delete(item, condition=condition)))

    @property
    def order(self) -> list[str]:
        """Item names in the order DynamoDB reports their cancellation reasons."""
        return [name for phase in _PHASES for name, _ in self._steps[phase]]

    def commit(self) -> None:
        """Raises ConditionsFailed naming the failed items, or RetryableConflict."""
        try:
            with TransactWrite(connection=aws_clients.pynamodb_connection()) as tx:
                for phase in _PHASES:
                    for _, step in self._steps[phase]:
                        step(tx)
        except TransactWriteError as e:
            raise ConditionsFailed(failed_conditions(e, self.order)) from e


def failed_conditions(error: TransactWriteError, order: list[str]) -> set[str]:
    """The names of the items whose condition failed. A cancellation for any other reason
    says nothing about those conditions: it is RetryableConflict. Not a cancellation at all:
    the error itself."""
    if error.cause_response_code not in _CANCELLED:
        raise error
    reasons: list[Any] = list(error.cancellation_reasons or [])
    if len(reasons) != len(order):
        # Reasons that do not line up with the items cannot say whose condition failed.
        raise RetryableConflict(f"transaction cancelled: {len(reasons)} reasons") from error
    codes = [
        (name, getattr(reason, "code", None)) for name, reason in zip(order, reasons, strict=False)
    ]
    if not codes or any(code not in (None, "None", CONDITION_FAILED) for _, code in codes):
        raise RetryableConflict(f"transaction cancelled: {codes}") from error
    return {name for name, code in codes if code == CONDITION_FAILED}
