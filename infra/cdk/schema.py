"""What a table must look like, read from its PynamoDB model (no CDK here: tests use it too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model


@dataclass(frozen=True)
class Key:
    name: str
    attr_type: str  # "S", "N" or "B"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: Key
    sort_key: Key | None
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key_attributes: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    model: type[Model]
    partition_key: Key
    sort_key: Key | None
    global_indexes: tuple[IndexSpec, ...]
    local_indexes: tuple[IndexSpec, ...]
    stream_view_type: str | None
    ttl_attribute: str | None


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> tuple[Key, Key | None]:
    by_kind = {k["KeyType"]: Key(k["AttributeName"], types[k["AttributeName"]]) for k in key_schema}
    return by_kind["HASH"], by_kind.get("RANGE")


def _index(raw: dict[str, Any], types: dict[str, str]) -> IndexSpec:
    partition, sort = _keys(raw["key_schema"], types)
    projection = raw["projection"]
    return IndexSpec(
        name=raw["index_name"],
        partition_key=partition,
        sort_key=sort,
        projection=projection["ProjectionType"],
        non_key_attributes=tuple(projection.get("NonKeyAttributes") or ()),
    )


def table_spec(model: type[Model]) -> TableSpec:
    """The table a model needs, from the same schema PynamoDB itself sends to CreateTable."""
    schema: dict[str, Any] = dict(model._get_schema())
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    partition, sort = _keys(schema["key_schema"], types)
    ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    return TableSpec(
        model=model,
        partition_key=partition,
        sort_key=sort,
        global_indexes=tuple(_index(i, types) for i in schema["global_secondary_indexes"]),
        local_indexes=tuple(_index(i, types) for i in schema["local_secondary_indexes"]),
        stream_view_type=getattr(model.Meta, "stream_view_type", None),
        ttl_attribute=ttl[0] if ttl else None,
    )
