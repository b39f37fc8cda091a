"""The inbox's and push tokens' requests and answers (DESIGN §4c)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints, model_validator

from chalicelib.api.common_schemas import Answer, Cursor, Instant, NotificationKind, PushPlatform
from chalicelib.domain import notifications


class Notification(Answer):
    notification_id: str = Field(description="sorts by the cause's time: newest first")
    kind: NotificationKind
    title: str = Field(description="Korean")
    body: str = Field(description="Korean")
    created_at: Instant = Field(description="when the cause happened (Asia/Seoul offset)")
    read: bool


class Inbox(Answer):
    """Newest first; `unread` counts every unread notification of mine, not just this page's."""

    notifications: list[Notification]
    unread: int = Field(ge=0)
    next_cursor: Cursor


class ReadMarked(Answer):
    unread: int = Field(ge=0, description="what is still unread after the mark")


class ReadRequest(BaseModel):
    """`POST /v1/me/notifications/read`: this notification and every older one are read."""

    model_config = ConfigDict(extra="forbid")
    up_to: Annotated[StrictStr, StringConstraints(min_length=1, max_length=128)]


class PushTokenRequest(BaseModel):
    """`PUT /v1/me/push-tokens`: a phone's token for its platform."""

    model_config = ConfigDict(extra="forbid")
    platform: PushPlatform
    token: Annotated[StrictStr, StringConstraints(min_length=1, max_length=4096)]

    @model_validator(mode="after")
    def _shape(self) -> PushTokenRequest:
        problem = notifications.token_problem(str(self.platform), self.token)
        if problem:
            raise ValueError(problem)
        return self


class PushTokenAnswer(Answer):
    platform: PushPlatform
    push: str = Field(
        pattern="^(on|off)$",
        description="`off`: push is not configured for this platform here (the token is kept)",
    )


class PushTokenRemoved(Answer):
    removed: bool
