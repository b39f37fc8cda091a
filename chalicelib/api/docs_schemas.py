"""What the contract routes answer (chalicelib/api/docs.py): the two documents themselves.
Their own specifications define them in full; here only what a client checks first."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenApiDocument(BaseModel):
    """This API's OpenAPI 3.1 document (the OpenAPI specification defines the rest)."""

    model_config = ConfigDict(extra="allow")
    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class AsyncApiDocument(BaseModel):
    """The devices' MQTT contract, AsyncAPI 3.0 (the AsyncAPI specification defines the rest)."""

    model_config = ConfigDict(extra="allow")
    asyncapi: Literal["3.0.0"]
    info: dict[str, Any]
    channels: dict[str, Any] = Field(description="one per topic, by name")
    operations: dict[str, Any] = Field(description="what a device sends and receives")
