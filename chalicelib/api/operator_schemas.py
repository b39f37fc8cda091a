"""Request bodies of the operators' actions on refused and parked messages (imported by
the routes that parse them: only they pay for pydantic)."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from chalicelib.domain.operations import MAX_NOTE, MAX_REDRIVE


class DiscardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[StrictStr, Field(min_length=1, max_length=MAX_NOTE)]

    @field_validator("note")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a note says why: it cannot be blank")
        if any(unicodedata.category(ch)[0] == "C" and ch != "\n" for ch in value):
            raise ValueError("a note has no control or format characters")
        return value


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max: Annotated[StrictInt, Field(ge=1, le=MAX_REDRIVE)] | None = None
