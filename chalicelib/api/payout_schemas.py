"""Request bodies of the payout routes (pydantic, imported only by the routes that parse
them). Shapes are checked here (400); the values are judged by the domain
(chalicelib.domain.payout_accounts, chalicelib.domain.payout_runs), which names each bad
field (422)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints

_Id = Annotated[StrictStr, StringConstraints(min_length=1, max_length=128)]


class PayoutAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bank: Annotated[StrictStr, StringConstraints(max_length=200)]
    account_number: Annotated[StrictStr, StringConstraints(max_length=200)]
    holder: Annotated[StrictStr, StringConstraints(max_length=400)]


class PayoutRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: Annotated[StrictStr, StringConstraints(max_length=32)]


class SettleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paid: Annotated[list[_Id], Field(max_length=1000)] = []
    failed: Annotated[list[_Id], Field(max_length=1000)] = []
