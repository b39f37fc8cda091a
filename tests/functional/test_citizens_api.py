"""Citizens through the API: registration, profile, codes, and the error shape."""

from __future__ import annotations

from tests.functional.conftest import Api


def _register(api: Api, who: str = "citizen-1", **extra: object) -> None:
    body = {"display_name": "김해시민", "district": "naeoe-dong", **extra}
    assert api.call("PUT", "/v1/me", as_user=who, body=body).status == 200


def test_register_then_read_profile(api: Api) -> None:
    # GIVEN a citizen who registers with a district
    _register(api)
    # WHEN they read their profile
    response = api.call("GET", "/v1/me", as_user="citizen-1")
    # THEN it shows what they registered and an empty balance
    assert response.status == 200
    assert response.body["display_name"] == "김해시민"
    assert response.body["district"] == "naeoe-dong"
    assert response.body["district_name"] == "내외동"
    for field in ("balance", "lifetime_earned", "lifetime_paid", "today_steps", "week_steps"):
        assert response.body[field] == 0
    assert response.body["phone_linked"] is False


def test_update_keeps_the_balance_fields(api: Api) -> None:
    _register(api)
    _register(api, display_name="새이름", district="jangyu1-dong")
    body = api.call("GET", "/v1/me", as_user="citizen-1").body
    assert (body["display_name"], body["district"], body["balance"]) == (
        "새이름",
        "jangyu1-dong",
        0,
    )


def test_unknown_district_is_422_with_the_error_shape(api: Api) -> None:
    response = api.call(
        "PUT", "/v1/me", as_user="c", body={"display_name": "x", "district": "gangnam-gu"}
    )
    assert response.status == 422
    assert response.body["error"]["code"] == "unknown_district"
    assert response.body["error"]["message"]
    assert isinstance(response.body["error"]["details"], list)


def test_malformed_json_is_400(api: Api) -> None:
    response = api.call("PUT", "/v1/me", as_user="c", raw=b'{"display_name": ')
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_json"


def test_missing_field_is_400_and_names_the_field(api: Api) -> None:
    response = api.call("PUT", "/v1/me", as_user="c", body={"display_name": "x"})
    assert response.status == 400
    assert {"field": "district", "problem": "Field required"} in response.body["error"]["details"]


def test_profile_before_registering_is_404(api: Api) -> None:
    response = api.call("GET", "/v1/me", as_user="nobody")
    assert response.status == 404
    assert response.body["error"]["code"] == "not_registered"


def test_no_token_is_401_with_the_error_shape(api: Api) -> None:
    response = api.call("GET", "/v1/me")
    assert response.status == 401
    assert response.body["error"]["code"] == "unauthorized"


def test_forged_token_is_401(api: Api) -> None:
    # GIVEN a token signed by someone else's key
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = pyjwt.encode({"sub": "x", "exp": 9999999999}, key, algorithm="RS256")
    response = api.call("GET", "/v1/me", headers={"authorization": f"Bearer {forged}"})
    assert response.status == 401


def test_expired_and_wrong_audience_tokens_are_401(api: Api, issuer) -> None:  # type: ignore[no-untyped-def]
    expired = issuer.mint("c", lifetime_s=-120)
    other_client = issuer.mint("c", aud="someone-else")
    for token in (expired, other_client):
        response = api.call("GET", "/v1/me", headers={"authorization": f"Bearer {token}"})
        assert response.status == 401, token


def test_unknown_route_is_404_with_the_error_shape(api: Api) -> None:
    response = api.call("GET", "/v1/nowhere", as_user="c")
    assert response.status == 404
    assert response.body["error"]["code"] == "not_found"


def test_admin_route_needs_the_admin_group(api: Api) -> None:
    assert api.call("GET", "/v1/admin/quarantine", as_user="c").status == 403
    assert api.call("GET", "/v1/admin/quarantine", as_user="ops", admin=True).status == 200


def test_deposit_code_is_six_digits_valid_five_minutes(api: Api) -> None:
    _register(api)
    response = api.call("POST", "/v1/me/deposit-codes", as_user="citizen-1")
    assert response.status == 201
    assert len(response.body["code"]) == 6 and response.body["code"].isdigit()
    assert response.body["expires_at"].endswith("+09:00")


def test_deposit_code_needs_registration(api: Api) -> None:
    assert api.call("POST", "/v1/me/deposit-codes", as_user="nobody").status == 404


def test_ledger_limit_out_of_range_is_400(api: Api) -> None:
    _register(api)
    assert api.call("GET", "/v1/me/ledger?limit=0", as_user="citizen-1").status == 400
    assert api.call("GET", "/v1/me/ledger?limit=abc", as_user="citizen-1").status == 400
    response = api.call("GET", "/v1/me/ledger?cursor=garbage", as_user="citizen-1")
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_cursor"


def test_framework_errors_get_the_error_shape(api: Api) -> None:
    # GIVEN requests API Gateway passes on but the app refuses (wrong method, wrong type)
    wrong_method = api.call("DELETE", "/v1/me", as_user="c")
    wrong_type = api.call(
        "PUT",
        "/v1/me",
        as_user="c",
        raw=b"display_name=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    # THEN both answer in the JSON error shape with their 4xx
    assert wrong_method.status in (403, 404, 405)
    assert set(wrong_method.body["error"]) == {"code", "message", "details"}
    assert wrong_type.status == 415
    assert wrong_type.body["error"]["code"] == "unsupported_media_type"


def test_a_citizen_reads_only_their_own_profile_and_ledger(api: Api) -> None:
    _register(api, "alice")
    _register(api, "bob", display_name="밥")
    assert api.call("GET", "/v1/me", as_user="bob").body["citizen_id"] == "bob"
    assert api.call("GET", "/v1/me/ledger", as_user="bob").body["entries"] == []


def test_deposit_codes_are_rate_limited_per_citizen(api: Api) -> None:
    # GIVEN a citizen who already took the 5 codes a 5-minute window allows
    _register(api)
    for _ in range(5):
        assert api.call("POST", "/v1/me/deposit-codes", as_user="citizen-1").status == 201
    # WHEN they ask for a sixth
    response = api.call("POST", "/v1/me/deposit-codes", as_user="citizen-1")
    # THEN it is a 429 in the error shape, and another citizen is not affected
    assert response.status == 429
    assert response.body["error"]["code"] == "too_many_codes"
    _register(api, "citizen-2")
    assert api.call("POST", "/v1/me/deposit-codes", as_user="citizen-2").status == 201


def test_the_rate_window_reopens(aws: object) -> None:
    from datetime import UTC, datetime, timedelta

    from chalicelib.adapters.dynamodb_rate_limits import DynamoDbRateLimiter

    limiter = DynamoDbRateLimiter()
    start = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert [limiter.acquire("k", 2, 300, start) for _ in range(3)] == [True, True, False]
    later = start + timedelta(seconds=300)
    assert [limiter.acquire("k", 2, 300, later) for _ in range(3)] == [True, True, False]


def test_the_quarantine_pages_newest_first_within_one_source(api: Api) -> None:
    from chalicelib import wiring

    # GIVEN five refused deposits and one refused rule delivery
    for i in range(5):
        wiring.quarantine().quarantine(
            source="deposits",
            reason="invalid_payload",
            device_id="robot-001",
            event_id=f"evt-{i:08d}",
            details="bad",
            payload=None,
        )
    wiring.operations().keep_rule_failure(device_id="robot-002", details="x", payload=None)
    # WHEN an admin reads them two at a time
    seen: list[str] = []
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        path = "/v1/admin/quarantine?source=deposits&limit=2"
        path += f"&cursor={cursor}" if cursor else ""
        page = api.call("GET", path, as_user="ops", admin=True).body
        seen += [item["event_id"] for item in page["items"]]
        ids += [item["quarantine_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # THEN every deposit comes once, newest first (ids sort by time), none of the other source
    assert sorted(seen) == [f"evt-{i:08d}" for i in range(5)]
    assert ids == sorted(ids, reverse=True)
    # AND a cursor cannot be turned to another source, and odd sources are refused
    first = api.call("GET", "/v1/admin/quarantine?limit=1", as_user="ops", admin=True).body
    other = f"/v1/admin/quarantine?source=rule-errors&cursor={first['next_cursor']}"
    assert api.call("GET", other, as_user="ops", admin=True).status == 400
    for source in ("x" * 65, "DEPOSITS", "deposits%00", "%ED%95%9C"):
        response = api.call(
            "GET", f"/v1/admin/quarantine?source={source}", as_user="ops", admin=True
        )
        assert response.status == 400, source


def test_a_body_naming_a_key_twice_is_400_and_changes_nothing(api: Api) -> None:
    # GIVEN a registered citizen
    _register(api, "c", display_name="Kim")
    # WHEN a body names display_name twice (which one wins depends on the parser)
    raw = b'{"display_name": "Kim", "district": "naeoe-dong", "display_name": "Lee"}'
    response = api.call("PUT", "/v1/me", as_user="c", raw=raw)
    # THEN it is refused as malformed and the profile is as it was
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_json"
    assert api.call("GET", "/v1/me", as_user="c").body["display_name"] == "Kim"
