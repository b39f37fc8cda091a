"""A hostile tester's pass over the citizens' and the control tower's new routes (issues 26
and 27: near me, the inbox and push tokens, my payouts and closing an account, the project
registry, the KPIs) by class: values of the wrong type, size or encoding in every query,
path and body; a closed account's token on every citizen route; cursors of another citizen;
a registration racing a close; markup in public text; and no phone number or push token in
a log line. Every answer is the DESIGN error shape with a 4xx, never a 5xx or another
citizen's data. (Each part's own tests hold the cases it thought of: this file holds what a
sweep across them adds.)"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.functional.conftest import Api, ApiResponse, register
from tests.functional.test_notifications import APNS, FCM, _causes, _deliver, _record
from tests.functional.test_projects import BODY as PROJECT

# Values of every class for a query or path value: types as text, sizes, encodings
# (invalid UTF-8, overlong, NUL, a lone surrogate, RTL and zero-width, full-width digits).
ODD = ["true", "null", "[]", "{}", "1e3", "-1", "0", "NaN", "inf", "0x10", "+1", "%20",
       "a" * 10_000, "%00", "%FF%FE", "%C0%AF", "%ED%A0%80", "%E2%80%AE1", "%E2%80%8B1",
       "%EF%BC%91%EF%BC%92", "2026-02-30", "1900-01-01", "9999-12-31", "2026-W50"]  # fmt: skip
QUERIES = [
    "/v1/shelters?near={}", "/v1/robots?near=35.2,{}", "/v1/shelters?near=35.23,128.88&limit={}",
    "/v1/me/notifications?limit={}", "/v1/me/notifications?cursor={}", "/v1/projects/{}",
    "/v1/kpis?period={}", "/v1/kpis?period=week&date={}", "/v1/me/push-tokens/{}",
]  # fmt: skip
# Bodies of every class for each new write route (a valid one, then its odd neighbours).
ODD_BODIES: list[Any] = [None, 1, "x", [], {"up_to": None}, {"up_to": 1}, {"up_to": ["a"]},
    {"up_to": "x" * 10_000}, {"up_to": "\u0000"}, {"up_to": True}, {"forfeit_points": "true"},
    {"platform": ["fcm"], "token": FCM}, {"platform": "fcm", "token": {"t": FCM}},
    {"platform": "apns", "token": APNS + "\u202e"},
    {"a": {"b": [[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}}]  # fmt: skip
RAW_BODIES = [b"\xff\xfe", b"\xc0\xaf", b"{" * 5000, b"[" * 100_000, b'{"up_to": "\\ud800"}',
              b'{"token": "\\u0000", "token": 1}', b"x" * 2_000_000, b'{"forfeit_points": NaN}',
              b'{"forfeit_points": 1e400}', b'{"up_to": 1' + b"0" * 5000 + b"}",
              b"\xef\xbb\xbf{}", '{"up_to": "x"}'.encode("utf-16"),
              b'{"up_to": "\xed\xa0\x80"}']  # fmt: skip
WRITES = [("POST", "/v1/me/notifications/read"), ("PUT", "/v1/me/push-tokens"),
          ("DELETE", "/v1/me"), ("POST", "/v1/admin/projects"),
          ("PUT", "/v1/admin/projects/smart-lights")]  # fmt: skip


def _error_shape(answer: ApiResponse, context: object) -> None:
    assert 400 <= answer.status < 500, (context, answer.status, answer.body)
    assert isinstance(answer.body, dict) and set(answer.body) == {"error"}, (context, answer.body)
    assert set(answer.body["error"]) == {"code", "message", "details"}, (context, answer.body)


@pytest.mark.parametrize("query", QUERIES)
def test_odd_query_and_path_values_are_4xx_in_the_error_shape(api: Api, query: str) -> None:
    register(api, "odd")
    for value in ODD:
        answer = api.call("GET" if "push" not in query else "DELETE", query.format(value),
                          as_user="odd")  # fmt: skip
        if answer.status == 200:  # a value that means something (a date, a `+1`...)
            continue
        _error_shape(answer, (query, value[:20]))


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_odd_bodies_are_4xx_in_the_error_shape_and_write_nothing(
    api: Api, method: str, path: str
) -> None:
    register(api, "odd")
    roles = ("admin",) if "admin" in path else ()
    for body in ODD_BODIES:
        if body is None and path == "/v1/me":
            continue  # no body: a plain close, as documented
        _error_shape(api.call(method, path, as_user="odd", roles=roles, body=body), body)
    for raw in RAW_BODIES:
        _error_shape(api.call(method, path, as_user="odd", roles=roles, raw=raw), raw[:10])
    # nothing was written: the account is open, with no phone, and the registry is empty
    assert api.call("GET", "/v1/me", as_user="odd").status == 200
    assert api.call("GET", "/v1/projects").body == {"projects": []}
    assert _tokens("odd") == []


# An empty value that means "none": no notes, no budget yet, no district (city-wide), no
# live service.
ALLOWED_EMPTY = [("notes", None), ("budget_krw", {}), ("districts", []), ("services", [])]


def test_each_project_field_of_another_type_or_size_is_a_4xx_and_registers_nothing(
    api: Api,
) -> None:
    """Every field of a valid project replaced by a value of another JSON type, a huge or
    NUL-holding string, or a nesting; a 4xx each (names and notes are public: markup too)."""
    odd: list[Any] = [None, True, [], {}, [[None]], "x" * 10_000, "a\u0000b", "<b>x</b>"]
    for field in PROJECT:
        for value in odd:
            if (field, value) in ALLOWED_EMPTY:
                continue
            body = {**PROJECT, field: value}
            sent = api.call("POST", "/v1/admin/projects", as_user="a", roles=("admin",), body=body)
            _error_shape(sent, (field, str(value)[:20]))
    assert api.call("GET", "/v1/projects").body == {"projects": []}


# -- A closed account ------------------------------------------------------------------------

# A valid body for each citizen write, so the closed account is what answers.
VALID = {
    ("POST", "/v1/me/notifications/read"): {"up_to": "1764579600000-prize_awarded-" + "0" * 24},
    ("POST", "/v1/me/phone"): {"phone": "010-2222-3333"},
    ("POST", "/v1/me/phone/verify"): {"verification_id": "01KC0000000000000000000000",
                                      "code": "123456"},
    ("PUT", "/v1/me"): {"display_name": "back", "district": "naeoe-dong"},
    ("PUT", "/v1/me/push-tokens"): {"platform": "apns", "token": APNS},
    ("PUT", "/v1/me/payout-account"): {"bank_code": "088", "account_number": "110123456789",
                                       "holder": "김민지"},
    ("PUT", "/v1/me/steps"): {"days": [{"date": "2026-12-08", "steps": 100}]},
}  # fmt: skip
FILL = {"{token}": APNS, "{challenge_id}": "ch-1"}


def test_a_closed_accounts_token_is_404_account_closed_on_every_citizen_route(api: Api) -> None:
    """Every operation of the document that needs a token and is not an admin's, read from
    the generated document (a new citizen route is covered the day it is added)."""
    doc = api.call("GET", "/v1/openapi.json").body
    citizen_ops = sorted(
        (method.upper(), path)
        for path, methods in doc["paths"].items()
        if not path.startswith("/v1/admin/")
        for method, op in methods.items()
        if isinstance(op, dict) and op.get("security")
    )
    assert ("DELETE", "/v1/me") in citizen_ops and ("GET", "/v1/me/payouts") in citizen_ops
    register(api, "gone", "010-2222-3333")
    assert api.call("PUT", "/v1/me/push-tokens", as_user="gone", body=VALID[
        ("PUT", "/v1/me/push-tokens")]).status == 200  # fmt: skip
    assert api.call("DELETE", "/v1/me", as_user="gone").status == 200
    for method, path in citizen_ops:
        filled = path
        for name, value in FILL.items():
            filled = filled.replace(name, value)
        body = VALID.get((method, path), {}) if method in ("POST", "PUT") else None
        answer = api.call(method, filled, as_user="gone", body=body)
        _error_shape(answer, (method, path))
        assert (answer.status, answer.body["error"]["code"]) == (404, "account_closed"), (
            method,
            path,
            answer.body,
        )
    assert _tokens("gone") == []


def test_a_phone_registered_as_the_account_closes_is_refused_and_kept_nowhere(api: Api) -> None:
    """The interleaving a real race gives: the registration's closed-account check passed,
    then the close erased the phones, then the registration writes. The write is conditional
    on the account being open, so the token (personal data) is not kept after the close."""
    from chalicelib import wiring
    from chalicelib.errors import NotFound

    register(api, "late")
    assert api.call("DELETE", "/v1/me", as_user="late").status == 200
    with pytest.raises(NotFound) as refused:
        wiring.notifications().register_token("late", "fcm", FCM)  # past the route's check
    assert refused.value.code == "account_closed"
    assert _tokens("late") == []
    # a phone that moves from an open account to a closed one stays with the open one
    register(api, "open")
    assert api.call("PUT", "/v1/me/push-tokens", as_user="open", body={
        "platform": "fcm", "token": FCM}).status == 200  # fmt: skip
    with pytest.raises(NotFound):
        wiring.notifications().register_token("late", "fcm", FCM)
    assert _tokens("open") == [FCM] and _tokens("late") == []


def test_a_payout_account_saved_as_the_account_closes_is_refused_and_kept_nowhere(
    api: Api,
) -> None:
    """The same race for the bank account (erased by the close too): the route's check
    passed, the close erased, then the save: refused, nothing kept."""
    from chalicelib import wiring
    from chalicelib.errors import NotFound

    register(api, "late")
    assert api.call("DELETE", "/v1/me", as_user="late").status == 200
    with pytest.raises(NotFound) as refused:
        wiring.payout_accounts().set_account("late", "088", "110123456789", "김민지")
    assert refused.value.code == "account_closed"
    assert wiring.payout_accounts().account("late") is None


def test_a_phone_sns_still_knows_disabled_registers_again(api: Api) -> None:
    """SNS refuses to create an endpoint for a token it holds with other attributes (a
    disabled endpoint our table no longer names: a delete cut short, or the token
    registered on the other platform meanwhile). A 64-hex token is an APNs and an FCM shape:
    registered as fcm, as apns, disabled by FCM, then as fcm again: a 200, not a 500, on the
    old endpoint enabled again."""
    import boto3

    from tests.functional.conftest import REGION
    from tests.functional.test_notifications import _endpoints

    register(api, "twice")

    def put(platform: str) -> ApiResponse:
        body = {"platform": platform, "token": APNS}
        return api.call("PUT", "/v1/me/push-tokens", as_user="twice", body=body)

    assert put("fcm").status == 200
    (fcm,) = [e for e in _endpoints().values() if e.token == APNS]
    assert put("apns").status == 200  # (moto answers the GCM endpoint for it: same token)
    # an endpoint SNS still holds for the token, disabled, that our table does not name
    sns = boto3.client("sns", region_name=REGION)
    stray = sns.create_platform_endpoint(PlatformApplicationArn=fcm.application.arn, Token=APNS)[
        "EndpointArn"
    ]
    sns.set_endpoint_attributes(EndpointArn=stray, Attributes={"Enabled": "false"})
    again = put("fcm")
    assert again.status == 200 and again.body == {"platform": "fcm", "push": "on"}, again.body
    assert _endpoints()[stray].enabled and _tokens("twice") == [APNS]


def _tokens(who: str) -> list[str]:
    from chalicelib.adapters.dynamodb_notifications import DynamoDbPushTokens

    return [t.token for t in DynamoDbPushTokens().of_citizen(who)]


# -- Another citizen's things ----------------------------------------------------------------


def test_another_citizens_cursor_or_a_forged_one_pages_only_my_inbox(api: Api) -> None:
    import base64

    for who in ("ann", "bob"):
        register(api, who)
        causes = _causes(who)
        _deliver([(h, _record(i, e, new, old)) for i, (h, e, new, old) in enumerate(causes)], 9)
    first = api.call("GET", "/v1/me/notifications?limit=2", as_user="ann").body
    ann_ids = {n["notification_id"] for n in first["notifications"]}
    cursor = first["next_cursor"]
    assert cursor
    # Bob with Ann's cursor: his own inbox, from that point; never one of Ann's
    bob = api.call("GET", f"/v1/me/notifications?cursor={cursor}", as_user="bob")
    assert bob.status == 200 and not ann_ids & {n["notification_id"] for n in
                                                bob.body["notifications"]}  # fmt: skip
    # forged: a partition key inside, a ledger cursor, a key past the counter
    forged = [
        base64.urlsafe_b64encode(json.dumps({"citizen_id": {"S": "ann"}}).encode()).decode(),
        base64.urlsafe_b64encode(b"~inbox").decode(),
        base64.urlsafe_b64encode(b"ann#9999999999999-prize_awarded-" + b"0" * 24).decode(),
        cursor + "A",
        cursor[::-1],
    ]
    for bad in forged:
        answer = api.call("GET", f"/v1/me/notifications?cursor={bad}", as_user="bob")
        _error_shape(answer, bad)
        assert answer.body["error"]["code"] == "invalid_cursor"
    # the inbox's cursor on another paged route of mine
    ledger = api.call("GET", f"/v1/me/ledger?cursor={cursor}", as_user="ann")
    _error_shape(ledger, "ledger")
    assert ledger.body["error"]["code"] == "invalid_cursor"
    # Bob marking Ann's newest read: not found, and Ann's count is what it was
    up_to = first["notifications"][0]["notification_id"]
    marked = api.call("POST", "/v1/me/notifications/read", as_user="bob", body={"up_to": up_to})
    assert (marked.status, marked.body["error"]["code"]) == (404, "notification_not_found")
    assert api.call("GET", "/v1/me/notifications", as_user="ann").body["unread"] == first["unread"]


# -- Logs ------------------------------------------------------------------------------------


def test_no_log_line_carries_a_phone_number_or_a_push_token(api: Api, app_log: io.StringIO) -> None:
    """At DEBUG, a citizen with a phone registers, moves, deletes and is pushed to phones,
    refused ones included, then closes the account: no line holds the number or a token."""
    from chalicelib import wiring
    from tests.functional.test_notifications import _pump_pushes

    register(api, "log", "010-4321-8765")
    register(api, "log-2")
    for who, body in (("log", {"platform": "fcm", "token": FCM}),
                      ("log", {"platform": "apns", "token": APNS}),
                      ("log-2", {"platform": "apns", "token": APNS.upper()}),
                      ("log", {"platform": "fcm", "token": FCM + "\u0000"})):  # fmt: skip
        api.call("PUT", "/v1/me/push-tokens", as_user=who, body=body)
    (skip,) = [c for c in _causes("log") if c[0] == "handle_skip_notices"]
    _deliver([(skip[0], _record(1, skip[1], skip[2], skip[3]))], 1)
    _pump_pushes()
    api.call("DELETE", f"/v1/me/push-tokens/{APNS}", as_user="log")
    api.call("DELETE", "/v1/me", as_user="log")
    api.call("DELETE", f"/v1/me/push-tokens/{FCM}", as_user="log")
    wiring.logger.debug("the capture works")
    logged = app_log.getvalue()
    assert "the capture works" in logged
    digits = ("4321-8765", "43218765", "4321 8765", "+821043218765")  # each way it is written
    for secret in (*digits, FCM[:40], FCM[-40:], APNS[:24], APNS[-24:].upper()):
        assert secret not in logged, secret


# -- The registry's writes -------------------------------------------------------------------


def test_a_replace_made_from_a_stale_read_is_refused(api: Api) -> None:
    admin = ("admin",)
    assert api.call("POST", "/v1/admin/projects", as_user="a-1", roles=admin,
                    body=PROJECT).status == 201  # fmt: skip
    read = api.call("GET", "/v1/projects/smart-lights")
    assert read.headers["ETag"] == '"1"'
    content = {k: v for k, v in PROJECT.items() if k != "project_id"}
    tag = {"if-match": read.headers["ETag"]}
    first = api.call("PUT", "/v1/admin/projects/smart-lights", as_user="a-1", roles=admin,
                     body={**content, "status": "in_progress"}, headers=tag)  # fmt: skip
    assert first.status == 200 and first.headers["ETag"] == '"2"'
    # the second admin edits what they read before the first's change: refused, told why
    stale = api.call("PUT", "/v1/admin/projects/smart-lights", as_user="a-2", roles=admin,
                     body={**content, "notes": "예산 변경"}, headers=tag)  # fmt: skip
    assert stale.status == 409 and stale.body["error"]["code"] == "project_changed"
    assert stale.body["error"]["details"] == [{"version": 2}]
    assert api.call("GET", "/v1/projects/smart-lights").body["status"] == "in_progress"
    # an If-Match that names no version is malformed; `*` (or none) is any version
    for bad in ("2", '"two"', '"1", "2"', '"' * 20):
        odd = api.call("PUT", "/v1/admin/projects/smart-lights", as_user="a-2", roles=admin,
                       body=content, headers={"if-match": bad})  # fmt: skip
        assert odd.status == 400 and odd.body["error"]["code"] == "invalid_header", bad
    anyone = api.call("PUT", "/v1/admin/projects/smart-lights", as_user="a-2", roles=admin,
                      body=content, headers={"if-match": "*"})  # fmt: skip
    assert anyone.status == 200 and anyone.headers["ETag"] == '"3"'


# -- Claims ----------------------------------------------------------------------------------


def test_a_citizens_token_naming_staff_groups_is_a_citizen_on_every_new_route(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients, as in AWS: the citizens' app and the staff console. The app's token with
    `cognito:groups: ["admin"]` writes no project, and, closed, is 404 `account_closed` on the
    new routes (a group must not skip the closed-account check); the console's token writes."""
    from chalicelib import wiring

    monkeypatch.setenv("JWT_AUDIENCE", "gimhae-local-app,gimhae-console")
    monkeypatch.setenv("STAFF_JWT_AUDIENCE", "gimhae-console")
    wiring.clear()
    issuer = api._issuer

    def bearer(sub: str, aud: str) -> dict[str, str]:
        return {"authorization": f"Bearer {issuer.mint(sub, admin=True, aud=aud)}"}

    app = bearer("crook", "gimhae-local-app")
    refused = api.call("POST", "/v1/admin/projects", body=PROJECT, headers=app)
    assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden_role")
    register(api, "crook")
    assert api.call("DELETE", "/v1/me", headers=app).status == 200
    for method, path, body in (("GET", "/v1/me/notifications", None),
                               ("GET", "/v1/me/payouts", None),
                               ("PUT", "/v1/me/push-tokens", {"platform": "fcm", "token": FCM}),
                               ("DELETE", "/v1/me", None)):  # fmt: skip
        closed = api.call(method, path, body=body, headers=app)
        assert (closed.status, closed.body["error"]["code"]) == (404, "account_closed"), path
    console = bearer("ops-1", "gimhae-console")
    assert api.call("POST", "/v1/admin/projects", body=PROJECT, headers=console).status == 201
