"""The pydantic shapes of citizen support's request bodies (types only: a wrong type, such as
points given as `"5"`, `5.0` or `true`, is a 400; the rules are chalicelib.domain.corrections',
a 422 naming the field)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: StrictInt
    reason: StrictStr
    reference: StrictStr | None = None


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: StrictStr
