"""Reads across tables in one request: BatchGetItem by model and key, in PynamoDB's terms."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from pynamodb.models import Model

from chalicelib.adapters import aws_clients
from chalicelib.errors import RetryableConflict

Key = tuple[type[Model], str, str | None]
"""A model and its item's hash key (and range key, for tables that have one)."""

MAX_KEYS = 100
"""BatchGetItem's limit per request."""


def raw_key(model: type[Model], hash_key: str, range_key: str | None) -> dict[str, Any]:
    key_attr = model._hash_key_attribute()
    key = {key_attr.attr_name: {key_attr.attr_type: key_attr.serialize(hash_key)}}
    if range_key is not None:
        range_attr = model._range_key_attribute()
        key[range_attr.attr_name] = {range_attr.attr_type: range_attr.serialize(range_key)}
    return key


def batch_get(wanted: list[Key], eventually: Collection[type[Model]] = ()) -> list[Model]:
    """The items that exist among `wanted` (at most 100 keys, from any tables), read
    strongly consistent unless their model is in `eventually` (half the read capacity).
    Keys DynamoDB leaves unprocessed are asked again with backoff, in the same call."""
    if len(wanted) > MAX_KEYS:
        raise ValueError(f"BatchGetItem takes at most {MAX_KEYS} keys")
    by_table = {model.Meta.table_name: model for model, _, _ in wanted}
    request: dict[str, Any] = {}
    for model, h, r in wanted:
        table = request.setdefault(
            model.Meta.table_name, {"Keys": [], "ConsistentRead": model not in eventually}
        )
        table["Keys"].append(raw_key(model, h, r))
    found: list[Model] = []
    for attempt in range(8):
        response = aws_clients.client("dynamodb").batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            found.extend(by_table[table].from_raw_data(item) for item in items)
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
        time.sleep(0.01 * 2**attempt)
    raise RetryableConflict("DynamoDB left keys unprocessed; try again")
