"""What a business event costs in DynamoDB: requests and capacity units, at the botocore layer.

moto answers `ConsumedCapacity` with placeholders, so the units are computed here from each
request's shape and the sizes of the items it reads and writes, with DynamoDB's documented
on-demand rules (docs.aws.amazon.com/amazondynamodb/latest/developerguide/: the pages
read-write-operations, CapacityUnitCalculations and GSI, "throughput considerations"):

- item size: attribute names + values (string: UTF-8 bytes; number: 1 byte per two significant
  digits + 1; null/bool: 1; list/map: 3 bytes + 1 per element + the elements);
- read: 1 RRU per 4 KB (rounded up) strongly consistent, half that eventually consistent, a
  missing item still costs the minimum; a Query rounds the total of the items it reads
  (those a filter drops included, taken at the returned items' mean size: an estimate);
- write: 1 WRU per 1 KB (rounded up) of the larger of the item before and after the write; a
  write whose condition fails still costs;
- transactions: 2x, per item (TransactWriteItems, TransactGetItems); a ConditionCheck costs as
  a transactional write of its item (assumption: DynamoDB bills it as a write);
- a GSI costs writes on the index when the write changes it: 1 when an item enters or leaves
  the index or a projected attribute changes, 2 when its index key changes (delete + put); an
  index entry is its keys and projected attributes + 100 bytes; index writes are standard
  writes even under a transaction (assumption: the index is updated asynchronously).

`Meter` wraps `BaseClient._make_api_call`: it counts every call by service and operation and,
for DynamoDB, reads the touched items before and after each write straight from the same
backend (those reads bypass the meter), so the sizes are those of the items the code wrote.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

READ_UNIT = 4096
WRITE_UNIT = 1024
INDEX_ENTRY_OVERHEAD = 100
IOT_MESSAGE_UNIT = 5 * 1024


def attribute_size(value: dict[str, Any]) -> int:
    """The size of one AttributeValue (without its name), by DynamoDB's rules."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8"))
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return len(raw) if isinstance(raw, bytes | bytearray) else len(str(raw))
    if kind in ("NULL", "BOOL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in raw)
    if kind == "NS":
        return sum(number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + attribute_size(v) for k, v in raw.items())
    raise ValueError(f"unknown attribute type {kind}")


def number_size(text: str) -> int:
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "").lstrip("0")
    if "E" in digits:
        digits = digits.split("E")[0]
    return math.ceil(max(len(digits), 1) / 2) + 1


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + attribute_size(v) for name, v in item.items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return float(units) if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT))


@dataclass(frozen=True)
class _Index:
    name: str
    keys: tuple[str, ...]
    projected: tuple[str, ...] | None  # None: ALL


@dataclass(frozen=True)
class _Table:
    keys: tuple[str, ...]
    indexes: tuple[_Index, ...]


@dataclass
class Tally:
    """What one business event cost."""

    calls: Counter[str] = field(default_factory=Counter)
    rru: float = 0.0
    wru: float = 0.0
    index_wru: float = 0.0
    item_bytes: dict[str, int] = field(default_factory=dict)
    iot_messages: int = 0
    iot_bytes: int = 0
    items_written: int = 0  # each Put/Update/Delete, each transaction's item but its checks
    queried: Counter[str] = field(default_factory=Counter)  # Query/Scan: table[/index]

    def as_dict(self) -> dict[str, Any]:
        dynamodb = sum(n for k, n in self.calls.items() if k.startswith("dynamodb:"))
        return {
            "dynamodb_requests": dynamodb,
            "rru": round(self.rru, 2),
            "wru": round(self.wru + self.index_wru, 2),
            "wru_of_indexes": round(self.index_wru, 2),
            "by_operation": dict(sorted(self.calls.items())),
            "item_bytes": dict(sorted(self.item_bytes.items())),
            "items_written": self.items_written,
            "queried": dict(sorted(self.queried.items())),
            "iot_publishes": self.iot_messages,
            "iot_publish_bytes": self.iot_bytes,
        }


class Meter:
    def __init__(self, original: Any) -> None:
        self._original = original
        self._tables: dict[str, _Table] = {}
        self.tally = Tally()

    def reset(self) -> Tally:
        done, self.tally = self.tally, Tally()
        return done

    # botocore hook ---------------------------------------------------------------------

    def call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        self.tally.calls[f"{service}:{operation}"] += 1
        if service == "iot-data" and operation == "Publish":
            payload = params.get("payload", b"")
            size = len(payload) + len(params.get("topic", "").encode("utf-8"))
            self.tally.iot_messages += 1
            self.tally.iot_bytes += size
        if service != "dynamodb":
            return self._original(client, operation, params)
        if operation in ("Query", "Scan"):
            index = params.get("IndexName")
            self.tally.queried[_logical(params["TableName"]) + (f"/{index}" if index else "")] += 1
        writes = self._writes(client, operation, params)
        self.tally.items_written += sum(1 for _, _, _, check in writes if not check)
        for table, _, _, _ in writes:
            self._table(client, table)
        before = [self._get(client, table, key) for table, key, _, _ in writes]
        try:
            response = self._original(client, operation, params)
        finally:
            after = [self._get(client, table, key) for table, key, _, _ in writes]
            for (table, _, factor, check), old, new in zip(writes, before, after, strict=True):
                self._charge_write(table, old, new, factor, check)
        self._charge_read(operation, params, response)
        return response

    # reads -----------------------------------------------------------------------------

    def _charge_read(self, operation: str, params: dict[str, Any], response: Any) -> None:
        if operation == "GetItem":
            size = item_size(response.get("Item"))
            self.tally.rru += read_units(size, bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            found = response.get("Responses", {})
            for table, request in params["RequestItems"].items():
                consistent = bool(request.get("ConsistentRead"))
                items = found.get(table, [])
                for item in items:
                    self.tally.rru += read_units(item_size(item), consistent)
                missing = len(request["Keys"]) - len(items)
                self.tally.rru += missing * read_units(0, consistent)
        elif operation == "TransactGetItems":
            for entry in response.get("Responses", []):
                self.tally.rru += 2 * read_units(item_size(entry.get("Item")), True)
        elif operation in ("Query", "Scan"):
            items = response.get("Items", [])
            size = sum(item_size(i) for i in items)
            # A filter drops items after they are read, and DynamoDB bills what it read:
            # the dropped ones are taken at the returned items' mean size (an estimate).
            scanned = int(response.get("ScannedCount", len(items)))
            if items and scanned > len(items):
                size = math.ceil(size * scanned / len(items))
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            self.tally.rru += read_units(size, consistent)

    # writes ----------------------------------------------------------------------------

    def _writes(
        self, client: Any, operation: str, params: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any], int, bool]]:
        """(table, key, factor, is_condition_check) for every item the call writes."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [(params["TableName"], self._key(client, params["TableName"], params), 1, False)]
        if operation == "TransactWriteItems":
            out = []
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                out.append(
                    (
                        body["TableName"],
                        self._key(client, body["TableName"], body),
                        2,
                        kind == "ConditionCheck",
                    )
                )
            return out
        if operation == "BatchWriteItem":
            out = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    body = request.get("PutRequest") or request.get("DeleteRequest") or {}
                    out.append((table, self._key(client, table, body), 1, False))
            return out
        return []

    def _key(self, client: Any, table: str, body: dict[str, Any]) -> dict[str, Any]:
        if "Key" in body:
            return dict(body["Key"])
        keys = self._table(client, table).keys
        return {k: body["Item"][k] for k in keys}

    def _get(self, client: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        response = self._original(
            client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _charge_write(
        self,
        table: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        factor: int,
        check: bool,
    ) -> None:
        size = max(item_size(old), item_size(new))
        self.tally.wru += factor * write_units(size)
        logical = _logical(table)
        if new is not None:
            self.tally.item_bytes[logical] = max(self.tally.item_bytes.get(logical, 0), size)
        if check:
            return
        spec = self._tables.get(table)
        for index in spec.indexes if spec else ():
            self.tally.index_wru += _index_writes(index, spec.keys if spec else (), old, new)

    def _table(self, client: Any, table: str) -> _Table:
        if table not in self._tables:
            described = self._original(client, "DescribeTable", {"TableName": table})["Table"]
            indexes = tuple(
                _Index(
                    gsi["IndexName"],
                    tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                    None
                    if gsi["Projection"]["ProjectionType"] == "ALL"
                    else tuple(gsi["Projection"].get("NonKeyAttributes", [])),
                )
                for gsi in described.get("GlobalSecondaryIndexes", [])
            )
            keys = tuple(k["AttributeName"] for k in described["KeySchema"])
            self._tables[table] = _Table(keys, indexes)
        return self._tables[table]

    def prime(self, client: Any, tables: list[str]) -> None:
        """Read the key schemas and indexes of `tables` before metering starts."""
        for table in tables:
            self._table(client, table)


def _index_entry(
    index: _Index, table_keys: tuple[str, ...], item: dict[str, Any] | None
) -> dict[str, Any] | None:
    if item is None or any(k not in item for k in index.keys):
        return None
    if index.projected is None:
        return dict(item)
    names = set(index.keys) | set(table_keys) | set(index.projected)
    return {k: v for k, v in item.items() if k in names}


def _index_writes(
    index: _Index,
    table_keys: tuple[str, ...],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> int:
    before = _index_entry(index, table_keys, old)
    after = _index_entry(index, table_keys, new)
    if before is None and after is None:
        return 0
    size = max(item_size(before), item_size(after)) + INDEX_ENTRY_OVERHEAD
    if before is None or after is None:
        return write_units(size)
    if any(before.get(k) != after.get(k) for k in index.keys):
        return 2 * write_units(size)
    return write_units(size) if before != after else 0


def _logical(table: str) -> str:
    from chalicelib import config

    prefix = config.table_name("x")[:-1]
    return table[len(prefix) :] if table.startswith(prefix) else table


def iot_messages(size: int) -> int:
    """Messages IoT Core meters for one publish of `size` bytes (payload + topic)."""
    return max(1, math.ceil(size / IOT_MESSAGE_UNIT))


@contextmanager
def metering() -> Iterator[Meter]:
    """Install a Meter on every botocore client for the duration of the block."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call
    meter = Meter(original)

    def metered(client: Any, operation: str, params: Any) -> Any:
        return meter.call(client, operation, params)

    botocore.client.BaseClient._make_api_call = metered
    try:
        yield meter
    finally:
        botocore.client.BaseClient._make_api_call = original
