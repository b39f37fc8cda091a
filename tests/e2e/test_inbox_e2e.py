"""The inbox end to end on the local stack (DESIGN §4c): a citizen registers a phone for push;
support proposes a correction and finance approves it; the ledger's stream tells the
citizen once, in Korean, in GET /v1/me/notifications, and the notification's stream pushes
it to the phone, which the local outbox shows as a developer reads it."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from infra.local import outbox
from tests.e2e.conftest import Stack, eventually

pytestmark = pytest.mark.e2e
CITIZEN = "e2e-inbox-park"
TOKEN = "e2e-inbox:APA91b" + "Qw_-8" * 30

_eventually = functools.partial(eventually, timeout=60.0)


def test_a_correction_reaches_the_inbox_once_and_the_phone(stack: Stack) -> None:
    # GIVEN Park, registered, with an Android phone registered for push
    park = stack.token(CITIZEN)
    status, _ = stack.http(
        "PUT", "/v1/me", token=park, body={"display_name": "Park", "district": "buwon-dong"}
    )
    assert status == 200
    status, registered = stack.http(
        "PUT", "/v1/me/push-tokens", token=park, body={"platform": "fcm", "token": TOKEN}
    )
    assert (status, registered) == (200, {"platform": "fcm", "push": "on"})

    # WHEN support proposes 1,500 points and finance approves them
    support = stack.token("e2e-inbox-lee", roles=("support",))
    status, proposed = stack.http(
        "POST",
        f"/v1/admin/citizens/{CITIZEN}/corrections",
        token=support,
        body={"points": 1500, "reason": "e2e inbox", "reference": "call-inbox"},
    )
    assert status == 201, proposed
    finance = stack.token("e2e-inbox-cho", roles=("finance",))
    status, approved = stack.http(
        "POST", f"/v1/admin/corrections/{proposed['correction_id']}/approve", token=finance
    )
    assert status == 200, approved

    # THEN Park's inbox tells it once, unread, in Korean with the amount separated
    def told() -> Any:
        status, inbox = stack.http("GET", "/v1/me/notifications", token=park)
        assert status == 200, inbox
        return inbox if inbox["notifications"] else None

    inbox = _eventually(told)
    (notice,) = inbox["notifications"]
    assert notice["kind"] == "correction_posted" and notice["read"] is False
    assert "+1,500포인트" in notice["title"] and inbox["unread"] == 1

    # AND the phone got it: the local outbox's push channel, to the token's tail
    def pushed() -> Any:
        sent = outbox.read(stack.state_dir, "push")
        return [m for m in sent if m["to"].endswith(TOKEN[-8:])]

    (push,) = _eventually(pushed)
    assert push in stack.outbox()  # what `python -m infra.local outbox` shows
    assert notice["title"] in push["text"] and "fcm:" in push["to"] and TOKEN not in push["to"]

    # AND reading it leaves nothing unread; the inbox still holds it once
    status, marked = stack.http(
        "POST", "/v1/me/notifications/read", token=park, body={"up_to": notice["notification_id"]}
    )
    assert (status, marked) == (200, {"unread": 0})
    status, after = stack.http("GET", "/v1/me/notifications", token=park)
    assert len(after["notifications"]) == 1 and after["unread"] == 0
