"""The inbox and push on moto (DESIGN §4c): each cause's notification once whatever the
replay and order, the unread counter exact, read marks, push tokens and their SNS endpoints,
and the hostile classes (another citizen's ids, a token twice or by two citizens, odd
tokens)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from tests.functional.conftest import REGION, Api, register, table_stream_event

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FCM = "fcm-token:APA91b" + "Ab_-9" * 30
APNS = "0a1b2c3d" * 8
_citizens = itertools.count()


def _record(seq: int, name: str, new: dict[str, Any], old: dict[str, Any] | None = None):
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": 1764579600.0,
        "SequenceNumber": f"{seq:021d}",
        "SizeBytes": 200,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "Keys": {},
        "NewImage": new,
    }
    if old:
        body["OldImage"] = old
    return {
        "eventID": str(seq),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": body,
    }


def _causes(who: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    """One of each cause for `who`, as its table's stream carries it: (handler, event name,
    new image, old image). Six notifications; one ledger entry that tells nothing."""
    from chalicelib.adapters import dynamodb_models as m

    def entry(entry_id: str, kind: str, points: int, at: datetime, detail: dict[str, Any]):
        return m.LedgerEntry(
            who,
            entry_id,
            kind=kind,
            points=points,
            balance_after=5000 + points,
            created_at=at,
            source_key=f"{kind}#{entry_id}",
            detail=detail,
        ).serialize()

    def item(status: str, at: datetime | None) -> dict[str, Any]:
        return m.PayoutItem(
            "payout-2026-11",
            who,
            period="2026-11",
            amount=25000,
            bank_code="088",
            account_ciphertext="x",
            account_last4="1234",
            holder="김민지",
            status=status,
            created_at=T0,
            settled_at=at,
            expires=T0 + timedelta(days=400),
        ).serialize()

    finished = m.ChallengeEntry(
        who,
        "walk-dec",
        joined_at=T0,
        district="naeoe-dong",
        finished_at=T0 + timedelta(hours=1),
        expires=T0 + timedelta(days=400),
    ).serialize()
    joined = m.ChallengeEntry(
        who, "walk-dec", joined_at=T0, district="naeoe-dong", expires=T0 + timedelta(days=400)
    ).serialize()
    skip = m.PayoutSkip(
        "payout-2026-10",
        f"no_account#{who}",
        citizen_id=who,
        reason="no_account",
        at=T0 + timedelta(hours=2),
        expires=T0 + timedelta(days=400),
    ).serialize()
    prize = {"challenge_id": "walk-dec", "title": "12월 {걷기}", "prize": "all_finishers"}
    return [
        ("handle_ledger_changes", "INSERT", entry("e1", "challenge_prize", 3000, T0, prize), None),
        ("handle_ledger_changes", "INSERT", entry("e2", "correction", -200, T0, {}), None),
        ("handle_ledger_changes", "INSERT", entry("e3", "recycling", 15, T0, {}), None),
        (
            "handle_payout_notices",
            "MODIFY",
            item("paid", T0 + timedelta(days=1)),
            item("pending", None),
        ),
        ("handle_finish_notices", "MODIFY", finished, joined),
        ("handle_skip_notices", "INSERT", skip, None),
        (
            "handle_payout_notices",
            "MODIFY",
            item("failed", T0 + timedelta(days=2)) | {"run_id": {"S": "payout-2026-10"}},
            item("pending", None) | {"run_id": {"S": "payout-2026-10"}},
        ),
    ]


def _invoke(handler: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    import app
    from infra.local.lambda_runtime import LambdaContext

    result: dict[str, Any] = getattr(app, handler)({"Records": records}, LambdaContext(handler))
    return result


def _deliver(deliveries: list[tuple[str, dict[str, Any]]], batch: int) -> None:
    """Consecutive records of one handler in batches of at most `batch`."""
    for handler, group in itertools.groupby(deliveries, key=lambda d: d[0]):
        records = [r for _, r in group]
        for start in range(0, len(records), batch):
            assert _invoke(handler, records[start : start + batch]) == {"batchItemFailures": []}


def _inbox(api: Api, who: str, **params: Any) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    got = api.call("GET", f"/v1/me/notifications?{query}", as_user=who)
    assert got.status == 200, got.body
    return dict(got.body)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    copies=st.lists(st.integers(1, 2), min_size=7, max_size=7),
    order=st.randoms(use_true_random=False),
    batch=st.integers(1, 5),
    mark=st.integers(0, 5),
)
def test_each_cause_notifies_once_whatever_the_replay_and_order(
    api: Api, copies: list[int], order: Any, batch: int, mark: int
) -> None:
    # GIVEN one citizen's six causes (and an entry that tells nothing)
    who = f"inbox-{next(_citizens)}"
    causes = _causes(who)
    # WHEN each cause's record is delivered 2-3 times, shuffled, in batches
    deliveries = [
        (handler, _record(i * 10 + k, name, new, old))
        for i, ((handler, name, new, old), n) in enumerate(zip(causes, copies, strict=True))
        for k in range(n)
    ]
    deliveries += [
        (h, _record(900 + i, name, new, old)) for i, (h, name, new, old) in enumerate(causes)
    ]
    order.shuffle(deliveries)
    _deliver(deliveries, batch)
    # THEN each notification is in the inbox once, newest first, all unread
    inbox = _inbox(api, who)
    kinds = [x["kind"] for x in inbox["notifications"]]
    assert sorted(kinds) == sorted(
        [
            "prize_awarded",
            "correction_posted",
            "payout_paid",
            "challenge_finished",
            "payout_skipped",
            "payout_failed",
        ]
    )
    ids = [x["notification_id"] for x in inbox["notifications"]]
    assert ids == sorted(ids, reverse=True) and inbox["unread"] == 6
    # WHEN I mark one read, and everything is delivered again, in another order
    up_to = ids[mark]
    marked = api.call("POST", "/v1/me/notifications/read", as_user=who, body={"up_to": up_to})
    assert marked.status == 200 and marked.body == {"unread": mark}
    order.shuffle(deliveries)
    _deliver(deliveries, batch)
    # THEN nothing is added, and the counter is exactly what the read flags say
    after = _inbox(api, who)
    assert [x["notification_id"] for x in after["notifications"]] == ids
    assert [x["read"] for x in after["notifications"]] == [i >= mark for i in range(6)]
    assert after["unread"] == mark == sum(not x["read"] for x in after["notifications"])


def test_words_pages_and_read_marks(api: Api) -> None:
    # GIVEN six notifications
    who = "inbox-pages"
    _deliver(
        [(h, _record(i, name, new, old)) for i, (h, name, new, old) in enumerate(_causes(who))], 10
    )
    # THEN they read as Korean, with amounts separated and the citizen's names as text
    everything = {x["kind"]: x for x in _inbox(api, who)["notifications"]}
    assert "3,000포인트" in everything["prize_awarded"]["title"]
    assert "'12월 {걷기}'" in everything["prize_awarded"]["body"]
    assert "지급 계좌" in everything["payout_skipped"]["body"]
    assert "25,000포인트는 회원님 잔액으로 돌아왔습니다" in everything["payout_failed"]["body"]
    assert everything["challenge_finished"]["created_at"].endswith("+09:00")
    # AND pages of 4 then 2 walk them newest first, each once
    first = _inbox(api, who, limit=4)
    second = _inbox(api, who, limit=4, cursor=first["next_cursor"])
    assert len(first["notifications"]) == 4 and second["next_cursor"] is None
    walked = [x["notification_id"] for x in first["notifications"] + second["notifications"]]
    assert walked == sorted(set(walked), reverse=True) and len(walked) == 6
    assert first["unread"] == second["unread"] == 6
    # WHEN I mark the newest read twice (idempotent), then an older one
    newest = walked[0]
    for _ in range(2):
        answer = api.call("POST", "/v1/me/notifications/read", as_user=who, body={"up_to": newest})
        assert answer.body == {"unread": 0}
    assert all(x["read"] for x in _inbox(api, who)["notifications"])


def test_another_citizens_ids_mark_nothing_and_reveal_nothing(api: Api) -> None:
    _deliver(
        [(h, _record(i, n, new, old)) for i, (h, n, new, old) in enumerate(_causes("ann"))], 10
    )
    _deliver(
        [(h, _record(i, n, new, old)) for i, (h, n, new, old) in enumerate(_causes("bob"))], 10
    )
    ann_ids = [x["notification_id"] for x in _inbox(api, "ann")["notifications"]]
    # Bob marks with Ann's newest id: the same 404 as an id nobody has
    theirs = api.call(
        "POST", "/v1/me/notifications/read", as_user="bob", body={"up_to": ann_ids[0]}
    )
    nobody = api.call(
        "POST", "/v1/me/notifications/read", as_user="bob", body={"up_to": "9" * 13 + "-x-y"}
    )
    assert theirs.status == nobody.status == 404
    assert theirs.body["error"]["code"] == nobody.body["error"]["code"] == "notification_not_found"
    assert _inbox(api, "ann")["unread"] == 6 and _inbox(api, "bob")["unread"] == 6
    # Bob's cursor built from Ann's id reads Bob's own inbox only
    from chalicelib.adapters.dynamodb_cursors import encode_key

    paged = _inbox(api, "bob", cursor=encode_key(ann_ids[-1]))
    assert all(x["notification_id"] not in ann_ids for x in paged["notifications"])
    assert {x["title"] for x in paged["notifications"]} <= {
        x["title"] for x in _inbox(api, "bob")["notifications"]
    }
    # malformed requests are 4xx in the error shape
    for path in ("?limit=0", "?limit=101", "?limit=x", "?cursor=!!!", "?cursor=" + "A" * 2000):
        got = api.call("GET", f"/v1/me/notifications{path}", as_user="bob")
        assert got.status == 400, (path, got.body)
    assert api.call("GET", "/v1/me/notifications?cursor=bm90LWFuLWlk", as_user="bob").status == 400
    for body in ({}, {"up_to": 5}, {"up_to": ""}, {"up_to": "x" * 500}, {"up_to": ["a"]}):
        got = api.call("POST", "/v1/me/notifications/read", as_user="bob", body=body)
        assert 400 <= got.status < 500 and "error" in got.body, body
    # an empty inbox answers nothing unread
    assert _inbox(api, "carol") == {"notifications": [], "unread": 0, "next_cursor": None}


def _endpoints() -> dict[str, Any]:
    return dict(sns_backends[DEFAULT_ACCOUNT_ID][REGION].platform_endpoints)


def _pump_pushes() -> None:
    from chalicelib import streams

    event = table_stream_event(streams.PUSHES)
    assert _invoke("handle_pushes", event["Records"]) == {"batchItemFailures": []}


def _stored_tokens(who: str) -> list[str]:
    from chalicelib.adapters.dynamodb_notifications import DynamoDbPushTokens

    return [t.token for t in DynamoDbPushTokens().of_citizen(who)]


def test_a_registered_phone_is_pushed_and_a_disabled_one_forgotten(api: Api) -> None:
    register(api, "dana")
    # GIVEN Dana registers an Android phone (twice: the same registration)
    for _ in range(2):
        got = api.call(
            "PUT", "/v1/me/push-tokens", as_user="dana", body={"platform": "fcm", "token": FCM}
        )
        assert got.status == 200 and got.body == {"platform": "fcm", "push": "on"}
    (endpoint,) = [e for e in _endpoints().values() if e.token == FCM]
    assert _stored_tokens("dana") == [FCM]
    # WHEN a payout run skips her for want of an account
    (skip,) = [c for c in _causes("dana") if c[0] == "handle_skip_notices"]
    _deliver([(skip[0], _record(1, skip[1], skip[2], skip[3]))], 1)
    _pump_pushes()
    # THEN her phone gets it once, in Korean, with the id the app opens
    (message,) = endpoint.messages.values()
    fcm = json.loads(json.loads(message)["GCM"])
    assert "지급" in fcm["notification"]["title"]
    assert (
        fcm["data"]["notification_id"] == _inbox(api, "dana")["notifications"][0]["notification_id"]
    )
    # WHEN the platform disables the endpoint (the app was uninstalled) and more comes
    sns = boto3.client("sns", region_name=REGION)
    sns.set_endpoint_attributes(EndpointArn=endpoint.arn, Attributes={"Enabled": "false"})
    (finish,) = [c for c in _causes("dana") if c[0] == "handle_finish_notices"]
    _deliver([(finish[0], _record(2, finish[1], finish[2], finish[3]))], 1)
    _pump_pushes()
    # THEN the token and its endpoint are gone, and the inbox has both notifications
    assert _stored_tokens("dana") == [] and endpoint.arn not in _endpoints()
    assert _inbox(api, "dana")["unread"] == 2
    # AND erasing Dana's inbox (closing an account may) leaves nothing, counter included
    from chalicelib import wiring

    assert wiring.notifications().erase_notifications("dana") == 3
    assert _inbox(api, "dana") == {"notifications": [], "unread": 0, "next_cursor": None}
    # AND registering again makes a new, enabled endpoint
    got = api.call(
        "PUT", "/v1/me/push-tokens", as_user="dana", body={"platform": "fcm", "token": FCM}
    )
    assert got.status == 200
    (again,) = [e for e in _endpoints().values() if e.token == FCM]
    assert again.enabled and _stored_tokens("dana") == [FCM]


def test_one_phone_one_owner_and_only_mine_to_delete(api: Api) -> None:
    # GIVEN an iPhone registered by Eve, then by Finn (the phone changed hands)
    put = {"platform": "apns", "token": APNS.upper()}
    assert api.call("PUT", "/v1/me/push-tokens", as_user="eve", body=put).status == 200
    assert api.call("PUT", "/v1/me/push-tokens", as_user="finn", body=put).status == 200
    # THEN it is Finn's alone: Eve cannot delete it, and does not learn whose it is
    assert _stored_tokens("eve") == [] and _stored_tokens("finn") == [APNS]
    gone = api.call("DELETE", f"/v1/me/push-tokens/{APNS}", as_user="eve")
    unknown = api.call("DELETE", f"/v1/me/push-tokens/{'f' * 64}", as_user="eve")
    assert gone.status == unknown.status == 404
    assert gone.body["error"]["code"] == unknown.body["error"]["code"] == "push_token_not_found"
    assert _stored_tokens("finn") == [APNS]
    # AND Finn deletes it (whatever its case), once; its endpoint goes with it
    assert api.call("DELETE", f"/v1/me/push-tokens/{APNS.upper()}", as_user="finn").status == 200
    assert api.call("DELETE", f"/v1/me/push-tokens/{APNS}", as_user="finn").status == 404
    assert _stored_tokens("finn") == [] and not [
        e for e in _endpoints().values() if e.token == APNS
    ]
    # AND an FCM token with `:` deletes URL-encoded
    body = {"platform": "fcm", "token": FCM}
    assert api.call("PUT", "/v1/me/push-tokens", as_user="finn", body=body).status == 200
    assert (
        api.call("DELETE", f"/v1/me/push-tokens/{quote(FCM, safe='')}", as_user="finn").status
        == 200
    )
    # AND erase_push_tokens (closing an account) forgets every phone of mine
    from chalicelib import wiring

    for token in (FCM, APNS):
        platform = "fcm" if token == FCM else "apns"
        api.call(
            "PUT", "/v1/me/push-tokens", as_user="finn", body={"platform": platform, "token": token}
        )
    assert wiring.erase_push_tokens("finn") == 2 and _stored_tokens("finn") == []
    assert wiring.notifications().erase_notifications("finn") == 0
    assert not [e for e in _endpoints().values() if e.token in (FCM, APNS)]


def test_odd_tokens_and_platforms_are_refused(api: Api) -> None:
    bad = [
        {"platform": "gcm", "token": FCM},
        {"platform": "APNS", "token": APNS},
        {"platform": "apns", "token": APNS[:-1]},
        {"platform": "apns", "token": "z" * 64},
        {"platform": "fcm", "token": "x" * 4097},
        {"platform": "fcm", "token": "토큰" * 40},
        {"platform": "fcm", "token": "a\u0000b" * 20},
        {"platform": "fcm"},
        {"platform": "fcm", "token": 12345},
        {"platform": "fcm", "token": FCM, "extra": 1},
    ]
    for body in bad:
        got = api.call("PUT", "/v1/me/push-tokens", as_user="gil", body=body)
        assert 400 <= got.status < 500 and "error" in got.body, (body, got.status)
    assert _stored_tokens("gil") == []
    # the longest FCM token taken registers and deletes
    longest = "x" * 4096
    assert (
        api.call(
            "PUT", "/v1/me/push-tokens", as_user="gil", body={"platform": "fcm", "token": longest}
        ).status
        == 200
    )
    assert api.call("DELETE", f"/v1/me/push-tokens/{longest}", as_user="gil").status == 200
    assert api.call("DELETE", "/v1/me/push-tokens/%ED%86%A0%ED%81%B0", as_user="gil").status == 404
    assert api.call("DELETE", "/v1/me/push-tokens/%FF%FE", as_user="gil").status == 404


def test_a_cause_delivered_after_the_account_closed_leaves_nothing(api: Api) -> None:
    from chalicelib.adapters import dynamodb_models as m

    # GIVEN a citizen told of one cause, who then closed the account (the inbox erased)
    register(api, "noah")
    causes = [(h, _record(i, n, new, old)) for i, (h, n, new, old) in enumerate(_causes("noah"))]
    _deliver(causes[:1], 1)
    assert _inbox(api, "noah")["unread"] == 1
    closed = api.call("DELETE", "/v1/me", as_user="noah")
    assert closed.status == 200, closed.body
    # WHEN every cause comes (late, or replayed by a rewound stream)
    _deliver(causes, 3)
    # THEN the erased inbox stays empty, the counter too
    assert list(m.Notification.query("noah")) == []


def test_the_inbox_handlers_touch_only_their_declared_tables(api: Api) -> None:
    from tests.functional.test_table_access import _declared, touched

    register(api, "hana")
    api.call("PUT", "/v1/me/push-tokens", as_user="hana", body={"platform": "fcm", "token": FCM})
    for handler, name, new, old in _causes("hana")[3:]:
        with touched() as tables:
            _deliver([(handler, _record(1, name, new, old))], 1)
        assert tables == _declared(handler), handler
    with touched() as tables:
        _pump_pushes()
    assert tables == _declared("handle_pushes")


CLOSED = "GetItem"


def test_what_each_operation_costs_in_dynamodb_requests(api: Api) -> None:
    """The figures docs/notifications.md gives (requests; a cost test, not a speed test)."""
    from tests.functional.test_table_access import dynamodb_requests

    causes = _causes("ivy")
    api.call("PUT", "/v1/me/push-tokens", as_user="ivy", body={"platform": "fcm", "token": FCM})
    # a new notification: one TransactWriteItems (the notice and its counter)
    handler, name, new, old = causes[5]
    with dynamodb_requests() as seen:
        _deliver([(handler, _record(1, name, new, old))], 1)
    assert [op for op, _ in seen] == ["TransactWriteItems"]
    (tx,) = [p for _, p in seen]
    assert len(tx["TransactItems"]) == 3  # the account still open, the notice, its counter
    # its replay: the same one request, cancelled by the notice's condition (nothing written)
    with dynamodb_requests() as seen:
        _deliver([(handler, _record(2, name, new, old))], 1)
    assert [op for op, _ in seen] == ["TransactWriteItems"]
    # a push: one Query of the citizen's phones (then one SNS Publish per phone)
    with dynamodb_requests() as seen:
        _pump_pushes()
    assert [op for op, _ in seen] == ["Query"]
    # the inbox: one Query and one GetItem (the unread counter), whatever the inbox's size.
    # CLOSED: first, the GetItem every citizen route makes (was the account closed?)
    with dynamodb_requests() as seen:
        page = _inbox(api, "ivy")
    assert sorted(op for op, _ in seen) == sorted([CLOSED, "GetItem", "Query"])
    # marking read: GetItem (is it mine) + Query (the unread up to it) + one transaction per
    # 99 notifications + GetItem (the counter answered)
    up_to = page["notifications"][0]["notification_id"]
    with dynamodb_requests() as seen:
        api.call("POST", "/v1/me/notifications/read", as_user="ivy", body={"up_to": up_to})
    assert [op for op, _ in seen] == [CLOSED, "GetItem", "Query", "TransactWriteItems", "GetItem"]
    # registering a phone again: one GetItem (its owner), no write when nothing changed
    with dynamodb_requests() as seen:
        api.call("PUT", "/v1/me/push-tokens", as_user="ivy", body={"platform": "fcm", "token": FCM})
    assert [op for op, _ in seen] == [CLOSED, "GetItem"]
