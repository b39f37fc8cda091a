"""The pydantic shape of POST /v1/admin/challenges, and the challenge routes' answers (for
the OpenAPI document). Its own module so that the challenge
stream handlers, which import chalicelib.api.challenges, never pay for pydantic.

Shape only (types, no extra fields: a wrong type is a 400); the city's rules (dates,
ranges, districts) are checked in chalicelib.domain.challenges.validate (422).
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.json_schema import SkipJsonSchema

from chalicelib.api.common_schemas import (
    Answer,
    ChallengeKind,
    ChallengeStatus,
    District,
    DrawScheme,
    PrizeType,
    absent_unless,
)
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


# Answers (the OpenAPI document's success bodies; DESIGN §4 "Challenges") ----------------


class ChallengePrize(Answer):
    type: PrizeType
    points: int
    winners: int | SkipJsonSchema[None] = absent_unless("how many win (first_n and lottery only)")


class ChallengeDraw(Answer):
    """A lottery's draw as the challenge shows it (the draw itself: `GET .../draw`)."""

    commitment: str | None = Field(description="SHA-256 of the secret seed, fixed at creation")
    drawn: bool
    my_pseudonym: str | SkipJsonSchema[None] = absent_unless(
        "my name in the published draw (a joined citizen's detail)"
    )


class Challenge(Answer):
    challenge_id: str
    title: str
    kind: ChallengeKind
    starts_on: dt.date = Field(description="an Asia/Seoul day, inclusive")
    ends_on: dt.date = Field(description="an Asia/Seoul day, inclusive")
    status: ChallengeStatus
    target: int
    daily_cap: int | None
    daily_goal: int | None
    district: District | None = Field(description="only its citizens may join")
    prize: ChallengePrize
    finishers: int = Field(ge=0)
    created_at: dt.datetime
    draw: ChallengeDraw | SkipJsonSchema[None] = absent_unless("lotteries only")


class ChallengeProgress(Answer):
    value: int
    target: int
    finished: bool
    finished_at: dt.datetime | None
    finish_rank: int | None


class ChallengeStanding(Challenge):
    """A challenge with my part in it."""

    joined: bool
    progress: ChallengeProgress
    prize_awarded: bool


class ChallengeList(Answer):
    """Open, upcoming and recently ended challenges, each with my progress."""

    challenges: list[ChallengeStanding]


class PublishedDraw(Answer):
    """A lottery's draw as anyone may check it (chalicelib/domain/draw.py)."""

    challenge_id: str
    commitment: str | None
    seed: str | None = Field(description="revealed once drawn; its SHA-256 is the commitment")
    finisher_digest: str | None
    finishers: list[str] | None = Field(description="the finishers' pseudonyms, sorted")
    winners: list[str] | None
    winner_count: int | None
    drawn_at: dt.datetime | None
    scheme: DrawScheme
    withheld: str | None = Field(description="why the lists are not shown, if they are not")
    algorithm: str
