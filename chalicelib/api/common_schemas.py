"""Value types the answer models share (OpenAPI document only: nothing here is imported at
a view's cold start). Closed value sets are enums, read from the same data and constants
the domain judges with, so the document cannot drift from what the views accept."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from chalicelib.domain import boards
from chalicelib.domain.districts import districts


class Answer(BaseModel):
    """An answer body: exactly these fields (`additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")


def district_codes() -> list[str]:
    """The city's district codes, as kept in chalicelib/data/districts.json."""
    return list(districts())


def board_scopes() -> list[str]:
    """A step board's scope: the city, or one district (`district:<code>`)."""
    return [boards.CITY, *(boards.district_scope(code) for code in district_codes())]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent_unless(description: str) -> Any:
    """A field left out of the answer when it does not apply (never sent as null): with
    `X | SkipJsonSchema[None]`, the document says "optional, of type X"."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


def enum_schema(values: list[str], description: str) -> dict[str, Any]:
    return {"type": "string", "enum": values, "description": description}


DISTRICT_SCHEMA = enum_schema(
    district_codes(), "one of the city's districts (chalicelib/data/districts.json)"
)
BOARD_SCOPE_SCHEMA = enum_schema(board_scopes(), "`city`, or one district as `district:<code>`")
DistrictCode = Annotated[str, WithJsonSchema(DISTRICT_SCHEMA)]
BoardScope = Annotated[str, WithJsonSchema(BOARD_SCOPE_SCHEMA)]


# Query values (`http.query_str(..., schema="common_schemas:NAME")`) -----------------------

SEOUL_DAY_QUERY: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "description": "an Asia/Seoul day, YYYY-MM-DD (default: today)",
}
BOARD_SCOPE_QUERY: dict[str, Any] = {**BOARD_SCOPE_SCHEMA, "default": boards.CITY}
DISTRICT_QUERY: dict[str, Any] = DISTRICT_SCHEMA
