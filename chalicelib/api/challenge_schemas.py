"""The pydantic shape of POST /v1/admin/challenges. Its own module so that the challenge
stream handlers, which import chalicelib.api.challenges, never pay for pydantic.

Shape only (types, no extra fields: a wrong type is a 400); the city's rules (dates,
ranges, districts) are checked in chalicelib.domain.challenges.validate (422).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from chalicelib.domain import challenges as c


class PrizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["all_finishers", "first_n", "lottery"]
    points: StrictInt
    winners: StrictInt | None = None


class ChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: StrictStr
    kind: Literal["total_steps", "daily_goal", "recycle_items"]
    starts_on: date
    ends_on: date
    target: StrictInt
    daily_cap: StrictInt | None = None
    daily_goal: StrictInt | None = None
    district: StrictStr | None = None
    prize: PrizeRequest

    def new_challenge(self) -> c.NewChallenge:
        return c.NewChallenge(
            title=self.title,
            kind=self.kind,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            target=self.target,
            prize=c.Prize(self.prize.type, self.prize.points, self.prize.winners),
            daily_cap=self.daily_cap,
            daily_goal=self.daily_goal,
            district=self.district,
        )
