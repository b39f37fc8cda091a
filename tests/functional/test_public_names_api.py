"""The public-name rule through the API: display names (`PUT /v1/me`), challenge titles
(`POST /v1/admin/challenges`) and payout holders (`PUT /v1/me/payout-account`) refuse the
same invisible characters, lone marks, look-alikes and wide runs with a 422 naming the
character class and position, and store the NFKC form; Korean names keep working."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.clock import seoul_day, utc_now
from tests.functional.conftest import Api

ACCOUNT = {"bank": "Shinhan", "account_number": "110-123-456789", "holder": "홍길동"}


def _put_me(api: Api, name: str, who: str = "pn-1") -> Any:
    return api.call(
        "PUT", "/v1/me", as_user=who, body={"display_name": name, "district": "naeoe-dong"}
    )


def _detail(answer: Any, field: str) -> dict[str, Any]:
    assert answer.status == 422, answer.body
    (found,) = [d for d in answer.body["error"]["details"] if d["field"] == field]
    return dict(found)


@pytest.mark.parametrize(
    ("name", "reason", "position"),
    [
        ("김\u180e해", "invisible_character", 2),
        ("김해\u17b4", "invisible_character", 3),
        ("a\u034fdmin", "invisible_character", 2),
        ("김해\ufe01", "invisible_character", 3),
        ("김해\U000e0100", "invisible_character", 3),
        ("\u3164", "invisible_character", 1),
        ("\uffa0민수", "invisible_character", 1),
        ("민\u200d수", "invisible_character", 2),
        ("\u0301김해", "lone_mark", 1),
        ("Kim \u0308", "lone_mark", 5),
        ("ａｄｍｉｎ", "reserved_name", None),
        ("관리자", "reserved_name", None),
        ("운영자 김", "reserved_name", None),
        ("김해시", "reserved_name", None),
        ("홍길동 주무관", "reserved_name", None),
        ("аdmin", "mixed_script", None),
        ("\ufdfd" * 5, "too_wide", None),
        ("\U00012219" * 9, "too_wide", None),
    ],
)
def test_a_display_name_is_refused_naming_the_class_and_position(
    api: Api, name: str, reason: str, position: int | None
) -> None:
    answer = _put_me(api, name)
    assert answer.body["error"]["code"] == "invalid_display_name"
    detail = _detail(answer, "display_name")
    assert detail["reason"] == reason and detail.get("position") == position
    assert api.call("GET", "/v1/me", as_user="pn-1").status == 404  # nothing was stored


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("김해 시민", "김해 시민"), ("Kim 민수", "Kim 민수"), ("ｋｉｍ　민수", "kim 민수"),
     ("김해사랑", "김해사랑"), ("❤\ufe0f 걷기", "❤\ufe0f 걷기")],
)  # fmt: skip
def test_korean_names_pass_and_are_stored_nfkc(api: Api, sent: str, stored: str) -> None:
    assert _put_me(api, sent).status == 200
    assert api.call("GET", "/v1/me", as_user="pn-1").body["display_name"] == stored


def _challenge(title: str) -> dict[str, Any]:
    today = seoul_day(utc_now())
    return {
        "title": title,
        "kind": "total_steps",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=3)).isoformat(),
        "target": 15000,
        "prize": {"type": "all_finishers", "points": 300},
    }


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("걷기\u180b대회", "invisible_character"),
        ("걷기\u034f대회", "invisible_character"),
        ("\u0301걷기", "lone_mark"),
        ("Wаlk Gimhae", "mixed_script"),
        ("\ufdfd" * 13, "too_wide"),
    ],
)
def test_a_challenge_title_obeys_the_same_rule(api: Api, title: str, reason: str) -> None:
    answer = api.call(
        "POST", "/v1/admin/challenges", as_user="ops", admin=True, body=_challenge(title)
    )
    assert _detail(answer, "title")["reason"] == reason


def test_a_challenge_title_is_stored_nfkc(api: Api) -> None:
    answer = api.call(
        "POST", "/v1/admin/challenges", as_user="ops", admin=True,
        body=_challenge("김해시장배 ｗａｌｋ"),
    )  # fmt: skip
    assert answer.status == 201, answer.body
    assert answer.body["title"] == "김해시장배 walk"


@pytest.mark.parametrize(
    ("holder", "reason"),
    [
        ("홍\u3164길동", "invisible_character"),
        ("\u3164", "invisible_character"),
        ("\u115f\u1160", "invisible_character"),
        ("홍길동\uffa0", "invisible_character"),
        ("홍\u200b길동", "invisible_character"),
        ("HОNG GILDONG", "mixed_script"),
    ],
)
def test_a_payout_holder_obeys_the_same_rule(api: Api, holder: str, reason: str) -> None:
    assert _put_me(api, "pn-holder", who="pn-2").status == 200
    answer = api.call(
        "PUT", "/v1/me/payout-account", as_user="pn-2", body={**ACCOUNT, "holder": holder}
    )
    assert answer.body["error"]["code"] == "invalid_payout_account"
    assert _detail(answer, "holder")["reason"] == reason
    assert api.call("GET", "/v1/me", as_user="pn-2").body["payout_account"] is None
