"""moto 5.2.5's TransactWriteItems, made cheap and thread-safe for the local stack, the tests
and the benchmarks. `install()` patches moto in this process; it is idempotent.

What moto does: `DynamoDBBackend.transact_write_items` deep-copies every table a transaction
names, once per transaction item, so that it can put the copies back if the transaction is
cancelled. A 5-item credit therefore copies ~5 whole tables (and their stream records): 26 ms
with empty tables, 23 s at 50,000 rows. The copy also iterates the tables while other request
threads write them, so concurrent transactions on moto server answer 500 ("dictionary changed
size during iteration"). And a cancelled transaction swaps the copied `Table` objects in,
which leaves every open stream iterator reading the old, detached shard.

What this module does instead:

- Rollback by key. Before an item of the transaction runs, the value its key holds (a deep
  copy of that one item, or its absence) is remembered; each streamed table's record count
  is remembered when the transaction starts. A cancelled transaction puts back exactly those
  keys and drops the stream records appended since. The loop, the checks, the order of
  `CancellationReasons` and the exceptions are moto's own code, copied unchanged.
- One stream record per created item: UpdateItem on a new key streams one INSERT of the
  whole item (moto's own streams the keys alone first).
- One lock. A re-entrant lock serialises every DynamoDB and DynamoDB Streams request (and the
  backend's write methods, for callers that use the backend directly), so a transaction is
  atomic with respect to every other request, as DynamoDB's are.

The patch depends on moto's internals: `EXPECTED_SOURCES` pins the source of each function it
copies or relies on. `check()` reports any difference; `install()` then keeps moto's own
transaction (installing only the lock) and logs a warning, and
tests/emulator/test_moto_transactions.py fails with instructions.
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from infra.local import moto_pins

# sha256 (first 16 hex digits) of inspect.getsource() of what the patch copies
# (transact_write_items) or relies on: through these functions a transaction changes nothing
# but `Table.items[hash]` (or `[hash][range]`) and appends to `Table.stream_shard.items`.
EXPECTED_SOURCES: dict[str, str] = {
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c9",
    "DynamoDBBackend.put_item": "f5d9a5042c77b89e",
    "DynamoDBBackend.update_item": "218984588dd689a5",
    "DynamoDBBackend.delete_item": "083a4bb1af18f6fd",
    "DynamoDBBackend.get_item": "290b95c46b38bc5a",
    "DynamoDBBackend.get_keys_value": "1f948797496ddc2c",
    "DynamoDBBackend.get_table": "a738146035fc206b",
    "Table.put_item": "de23933013ef8426",
    "Table.get_item": "b08e98fe37b7e583",
    "Table.delete_item": "1594f7b07616c8cb",
    "StreamShard.add": "357dc6da267e5dd7",
    "StreamRecord.__init__": "511904c6352cfd9a",
    "DynamoHandler.transact_write_items": "61c163fff213f33a",
}

# Backend methods that write items: serialised with transactions for direct callers too.
LOCKED_BACKEND_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)

LOCK = threading.RLock()
"""Held for the whole of every DynamoDB / DynamoDB Streams request in this process."""

_MARK = "_gimhae_moto_transactions"
_install_lock = threading.Lock()
_SAVED: list[tuple[type, str, Any]] = []  # (owner, name, its own attribute before install)

F = TypeVar("F", bound=Callable[..., Any])


def _pinned() -> dict[str, Callable[..., Any]]:
    """The functions whose source is pinned, unpatched."""
    saved = {name: own for owner, name, own in _SAVED if owner is DynamoDBBackend}
    backend = {
        name: saved.get(name) or getattr(DynamoDBBackend, name)
        for name in (
            "transact_write_items",
            "put_item",
            "update_item",
            "delete_item",
            "get_item",
            "get_keys_value",
            "get_table",
        )
    }
    found = {f"DynamoDBBackend.{name}": fn for name, fn in backend.items()}
    found.update(
        {
            "Table.put_item": Table.put_item,
            "Table.get_item": Table.get_item,
            "Table.delete_item": Table.delete_item,
            "StreamShard.add": StreamShard.add,
            "StreamRecord.__init__": StreamRecord.__init__,
            "DynamoHandler.transact_write_items": DynamoHandler.transact_write_items,
        }
    )
    return found


def source_hashes() -> dict[str, str]:
    return {name: moto_pins.source_digest(_unwrap(fn)) for name, fn in _pinned().items()}


def check() -> list[str]:
    """What differs from the moto this patch was written against (empty: nothing)."""
    problems = moto_pins.differences(_pinned(), EXPECTED_SOURCES, _unwrap)
    table = Table.__init__
    for attribute in ("self.items", "self.stream_shard", "self.hash_key_attr"):
        if attribute not in inspect.getsource(table):
            problems.append(f"Table.__init__ no longer sets {attribute}")
    if "self.items" not in inspect.getsource(StreamShard.__init__):
        problems.append("StreamShard.__init__ no longer sets self.items")
    return problems


def _unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    return inspect.unwrap(fn)


def _locked(fn: F) -> F:
    @functools.wraps(fn)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return fn(*args, **kwargs)

    return locked  # type: ignore[return-value]


def _backend_method(name: str, fixed: bool) -> Callable[..., Any]:
    method = getattr(DynamoDBBackend, name)
    return _one_stream_record(method) if fixed and name == "update_item" else method


def _one_stream_record(update_item: F) -> F:
    """UpdateItem that creates an item streams ONE INSERT with the whole new image, as
    DynamoDB does. moto's own first puts the keys alone (an INSERT of the keys), then
    streams the updated item as a second INSERT: a stream consumer would see a step day, a
    challenge entry, ... without its attributes."""

    @functools.wraps(update_item)
    def update(self: DynamoDBBackend, table_name: str, key: Any, *args: Any, **kw: Any) -> Any:
        table = self.get_table(table_name)
        shard = table.stream_shard
        if shard is None or table.get_item(*self.get_keys_value(table, key)) is not None:
            return update_item(self, table_name, key, *args, **kw)
        table.stream_shard = None  # no record for moto's put of the keys
        try:
            item = update_item(self, table_name, key, *args, **kw)
        finally:
            table.stream_shard = shard
        shard.add(None, item)
        return item

    return update  # type: ignore[return-value]


def installed() -> bool:
    return bool(getattr(DynamoDBBackend, _MARK, False))


def install() -> None:
    """Patch moto in this process (idempotent): rollback by key and the request lock."""
    with _install_lock:
        if installed():
            return
        consequence = "moto's own TransactWriteItems, which copies whole tables"
        fits = moto_pins.still_fits(__name__, consequence, check())
        transact = transact_write_items if fits else DynamoDBBackend.transact_write_items
        patches: list[tuple[type, str, Callable[..., Any]]] = [
            (DynamoDBBackend, "transact_write_items", transact),
            *((DynamoDBBackend, n, _backend_method(n, fixed=fits)) for n in LOCKED_BACKEND_METHODS),
            (DynamoHandler, "call_action", DynamoHandler.call_action),
            (DynamoDBStreamsHandler, "call_action", DynamoDBStreamsHandler.call_action),
        ]
        for owner, name, fn in patches:
            _SAVED.append((owner, name, vars(owner).get(name)))
            setattr(owner, name, _locked(fn))
        setattr(DynamoDBBackend, _MARK, True)


def uninstall() -> None:
    """Put moto back as it was (for tests that compare with moto's own behaviour)."""
    with _install_lock:
        if not installed():
            return
        while _SAVED:
            owner, name, own = _SAVED.pop()
            if own is None:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
        delattr(DynamoDBBackend, _MARK)


# --- rollback by key -------------------------------------------------------------------


class _Undo:
    """What a transaction changed, to put back if it is cancelled."""

    def __init__(self) -> None:
        # (table, hash key, range key, the hash bucket existed, the item before or None)
        self.items: list[tuple[Table, DynamoType, DynamoType | None, bool, Item | None]] = []
        # (shard, its record list, the list's length) per streamed table
        self.streams: dict[int, tuple[StreamShard, list[StreamRecord], int]] = {}

    def watch_stream(self, table: Table) -> None:
        shard = table.stream_shard
        if shard is not None and id(shard) not in self.streams:
            self.streams[id(shard)] = (shard, shard.items, len(shard.items))

    def remember(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
        """Before one item of the transaction runs. If the key is unusable moto raises on
        it right after, before changing anything: then there is nothing to remember."""
        try:
            table = backend.get_table(table_name)
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:
            return
        self.watch_stream(table)
        if table.range_key_attr is not None:
            bucket = table.items.get(hash_key)
            present = bucket is not None
            before = bucket.get(range_key) if bucket is not None else None
        else:
            present = hash_key in table.items
            before = table.items.get(hash_key)
        self.items.append((table, hash_key, range_key, present, copy.deepcopy(before)))

    def undo(self) -> None:
        for table, hash_key, range_key, present, before in reversed(self.items):
            if table.range_key_attr is not None:
                if before is not None:
                    table.items[hash_key][range_key] = before
                else:
                    bucket = table.items.get(hash_key)
                    if bucket is not None:
                        bucket.pop(range_key, None)
                        if not present and not bucket:
                            del table.items[hash_key]
            elif before is not None:
                table.items[hash_key] = before  # type: ignore[assignment]
            else:
                table.items.pop(hash_key, None)
        for shard, records, length in self.streams.values():
            del records[length:]
            shard.items = records


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's DynamoDBBackend.transact_write_items with `_Undo` in place of the deep
    copies of whole tables (the three lines that mention `undo`); every other line is moto's."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    # Create a backup in case any of the transactions fail
    undo = _Undo()
    for item in transact_items:
        _, op = next(iter(item.items()))
        table_name = op.get("TableName")
        if table_name and table_name in self.tables:
            undo.watch_stream(self.tables[table_name])

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        # Check transact writes are not performing multiple operations on the same item
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException

        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)
            undo.remember(self, table_name, key)  # (not moto's: the one item's backup)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type == "Put":
                attrs = op["Item"]
                self.put_item(
                    table_name,
                    attrs,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                update_expression = op["UpdateExpression"]
                self.update_item(
                    table_name,
                    key,
                    update_expression=update_expression,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            # Rollback to the original state, and reraise the error
            undo.undo()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # Do not use bare except
            # For other exceptions, capture their details
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        # Rollback to the original state, and reraise the errors
        undo.undo()
        raise TransactionCanceledException(errors)
