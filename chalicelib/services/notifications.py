"""The citizen's inbox and push (DESIGN §4c): notifications derived from their causes,
exactly once; read marks; phones registered for push; a notification pushed to each of
its citizen's phones after it is in the inbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from chalicelib.domain import notifications as n
from chalicelib.domain.closing import account_closed
from chalicelib.errors import NotFound

if TYPE_CHECKING:
    from chalicelib.adapters.dynamodb_notifications import InboxPage, StoredToken
    from chalicelib.domain.phone_proofs import Notice


class Inbox(Protocol):
    def add(self, citizen_id: str, notice: Notice) -> bool: ...
    def page(self, citizen_id: str, limit: int, cursor: str | None) -> InboxPage: ...
    def exists(self, citizen_id: str, notification_id: str) -> bool: ...
    def mark_read(self, citizen_id: str, up_to: str) -> int: ...
    def unread(self, citizen_id: str) -> int: ...
    def erase(self, citizen_id: str) -> int: ...


class PushTokens(Protocol):
    def get(self, token_key: str) -> StoredToken | None: ...
    def put(
        self,
        token_key: str,
        citizen_id: str,
        platform: str,
        token: str,
        endpoint_arn: str | None,
        now: datetime,
    ) -> bool: ...
    def remove(self, token_key: str, citizen_id: str) -> bool: ...
    def remove_endpoint(self, token_key: str, endpoint_arn: str) -> bool: ...
    def of_citizen(self, citizen_id: str) -> list[StoredToken]: ...


class Push(Protocol):
    def create_endpoint(self, application_arn: str, token: str) -> str: ...
    def enable(self, endpoint_arn: str, token: str) -> bool: ...
    def publish(self, endpoint_arn: str, message: str) -> Literal["sent", "gone"]: ...
    def delete_endpoint(self, endpoint_arn: str) -> None: ...


@dataclass(frozen=True)
class Registered:
    platform: str
    push: Literal["on", "off"]
    """`off`: no platform application is configured for this platform (the token is kept,
    and pushed once one is and the phone registers again)."""


@dataclass(frozen=True)
class Pushed:
    sent: int = 0
    removed: int = 0
    off: int = 0


class NotificationService:
    def __init__(
        self,
        inbox: Inbox,
        tokens: PushTokens,
        push: Push,
        applications: Mapping[str, str | None],
        clock: Callable[[], datetime],
    ) -> None:
        self._inbox = inbox
        self._tokens = tokens
        self._push = push
        self._applications = applications
        self._clock = clock

    # -- The inbox ------------------------------------------------------------------------

    def deliver(self, causes: Iterable[n.Cause]) -> int:
        """Each cause's notification into its citizen's inbox, once: how many were new."""
        return sum(self._inbox.add(c.citizen_id, n.render(c)) for c in causes)

    def page(self, citizen_id: str, limit: int, cursor: str | None) -> InboxPage:
        return self._inbox.page(citizen_id, limit, cursor)

    def mark_read(self, citizen_id: str, up_to: str) -> int:
        """Mark `up_to` and every older notification of mine read. An id that is not in my
        inbox (another citizen's, or none) is a 404 and marks nothing."""
        if not n.ID_SHAPE.fullmatch(up_to) or not self._inbox.exists(citizen_id, up_to):
            raise NotFound("no such notification in your inbox", code="notification_not_found")
        self._inbox.mark_read(citizen_id, up_to)
        return self._inbox.unread(citizen_id)

    def erase_notifications(self, citizen_id: str) -> int:
        """Every notification of the citizen deleted, with the counter (closing an
        account): how many items were deleted."""
        return self._inbox.erase(citizen_id)

    # -- Phones ---------------------------------------------------------------------------

    def register_token(self, citizen_id: str, platform: str, token: str) -> Registered:
        """The token is the citizen's from now on (a second citizen's registration moves
        it); its SNS endpoint is made, or kept when the token already had one."""
        token = n.normal_token(platform, token)
        key = n.token_key(token)
        existing = self._tokens.get(key)
        application = self._applications.get(platform)
        known = existing.endpoint_arn if existing and existing.platform == platform else None
        endpoint = None
        if application:
            if known and self._push.enable(known, token):
                endpoint = known
            else:
                endpoint = self._push.create_endpoint(application, token)
        unchanged = (
            existing is not None
            and existing.citizen_id == citizen_id
            and existing.platform == platform
            and existing.endpoint_arn == endpoint
        )
        if not unchanged and not self._tokens.put(
            key, citizen_id, platform, token, endpoint, self._clock()
        ):
            # the account closed since the route checked it: keep nothing of this phone
            if endpoint and endpoint != known:
                self._push.delete_endpoint(endpoint)
            raise account_closed()
        if existing and existing.endpoint_arn and existing.endpoint_arn != endpoint:
            self._push.delete_endpoint(existing.endpoint_arn)  # the token changed platform
        return Registered(platform, "on" if endpoint else "off")

    def remove_token(self, citizen_id: str, token: str) -> None:
        """Only my own token: another citizen's, or none, is a 404 that says nothing more."""
        # an APNs token in upper case is the same device; an FCM token is case-sensitive
        apns = n.APNS_TOKEN.fullmatch(token) is not None
        for candidate in dict.fromkeys((token, token.lower() if apns else token)):
            stored = self._tokens.get(n.token_key(candidate))
            if stored is not None and stored.citizen_id == citizen_id:
                if self._tokens.remove(stored.token_key, citizen_id) and stored.endpoint_arn:
                    self._push.delete_endpoint(stored.endpoint_arn)
                return
        raise NotFound("no such push token of yours", code="push_token_not_found")

    def erase_push_tokens(self, citizen_id: str) -> int:
        """Every phone of the citizen forgotten, their endpoints deleted (closing an
        account): how many tokens were removed."""
        removed = 0
        for stored in self._tokens.of_citizen(citizen_id):
            if self._tokens.remove(stored.token_key, citizen_id):
                removed += 1
                if stored.endpoint_arn:
                    self._push.delete_endpoint(stored.endpoint_arn)
        return removed

    def push(self, citizen_id: str, notice: Notice) -> Pushed:
        """The notification to each of the citizen's phones. An endpoint the platform gave
        up on (disabled, gone) removes its token; any other failure raises, and the stream
        retries (a phone may then see a notification twice; the inbox never does)."""
        sent = removed = off = 0
        message = n.push_message(notice)
        for stored in self._tokens.of_citizen(citizen_id):
            if not stored.endpoint_arn:
                off += 1
                continue
            if self._push.publish(stored.endpoint_arn, message) == "sent":
                sent += 1
                continue
            if self._tokens.remove_endpoint(stored.token_key, stored.endpoint_arn):
                removed += 1
                self._push.delete_endpoint(stored.endpoint_arn)
        return Pushed(sent, removed, off)
