"""The answers of the step leaderboards (`/v1/leaderboards/...`, DESIGN §4), for the OpenAPI
document. Ranks are competition ranks: equal scores share a rank, the next one skips."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chalicelib.api.common_schemas import Answer, BoardScope, District, Period


class BoardEntry(Answer):
    rank: int = Field(ge=1)
    display_name: str
    steps: int = Field(ge=0)


class MyStanding(Answer):
    rank: int | None = Field(ge=1, description="null: not on this board (no steps yet)")
    steps: int = Field(ge=0)


class StepBoard(Answer):
    """The leaders of a board, and where I stand on it."""

    period: Period
    date: dt.date = Field(description="the Seoul day asked (a week board: the week holding it)")
    scope: BoardScope
    entries: list[BoardEntry]
    me: MyStanding


class DistrictEntry(Answer):
    rank: int = Field(ge=1)
    district: District
    name: str = Field(description="the district's Korean name")
    steps: int = Field(ge=0)


class DistrictBoard(Answer):
    """The districts ranked by their citizens' total steps."""

    period: Period
    date: dt.date
    entries: list[DistrictEntry]
