"""Staff roles (DESIGN §4b): each admin route answers the roles that hold its power and
refuses every other caller with 403 `forbidden_role` naming the roles that would do; the
action log lists staff actions newest first, for admins only, filtered by person, target and
time, and nothing but a Put of a new id can add to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.dynamodb_models import StaffAction as Item
from chalicelib.adapters.dynamodb_staff_actions import DynamoDbStaffActions, to_item
from chalicelib.domain import roles
from chalicelib.domain.staff_actions import ActionFilter, Actor, new_action
from tests.functional.conftest import Api

READS = [
    ("/v1/admin/devices", roles.Power.DEVICES),
    ("/v1/admin/quarantine", roles.Power.QUARANTINE_READ),
    ("/v1/admin/dead-letters", roles.Power.DEAD_LETTERS),
    ("/v1/admin/stats", roles.Power.STATS),
    ("/v1/admin/audit", roles.Power.AUDIT),
    ("/v1/admin/actions", roles.Power.ACTIONS),
]


@pytest.mark.parametrize(("path", "power"), READS, ids=[p for p, _ in READS])
@pytest.mark.parametrize("role", [*roles.ROLES, "citizen", "Admin", "admin "])
def test_each_admin_read_answers_exactly_the_roles_that_hold_its_power(
    api: Api, path: str, power: roles.Power, role: str
) -> None:
    answer = api.call("GET", path, as_user="staff-1", roles=(role,))
    if role in roles.roles_for(power):
        assert answer.status in (200, 404), answer.body  # 404: no audit has run yet
        return
    assert answer.status == 403, answer.body
    error = answer.body["error"]
    assert error["code"] == "forbidden_role"
    assert error["details"] == [{"roles": list(roles.roles_for(power))}]
    assert "admin" in error["message"]


def test_roles_add_up_and_admin_holds_every_power() -> None:
    for power in roles.Power:
        assert roles.may(frozenset({"admin"}), power)
        assert not roles.may(frozenset(), power)
        assert not roles.may(frozenset({"citizen", "Admin"}), power)
    assert roles.may(frozenset({"support", "finance"}), roles.Power.CORRECTIONS_APPROVE)
    assert not roles.may(frozenset({"support"}), roles.Power.CORRECTIONS_APPROVE)


def test_a_person_cannot_check_their_own_money_action() -> None:
    from chalicelib.errors import Forbidden

    roles.check_second_person("finance-1", "finance-2", "a correction")
    with pytest.raises(Forbidden) as refused:
        roles.check_second_person("finance-1", "finance-1", "a correction")
    assert refused.value.code == "same_person"


def _seed(at: datetime) -> list[str]:
    ids = []
    for n, (who, target) in enumerate(
        [("ops-1", "alert:A1"), ("ops-2", "alert:A1"), ("ops-1", "run:R1"), ("fin-1", "run:R1")]
    ):
        action = new_action(
            Actor(who, ("operator",)), "test.act", target, at + timedelta(minutes=n), {"n": n}
        )
        DynamoDbStaffActions.append(action)
        ids.append(action.action_id)
    return ids


def test_the_action_log_lists_newest_first_and_filters(api: Api) -> None:
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    ids = _seed(at)
    everything = api.call("GET", "/v1/admin/actions", as_user="boss", admin=True).body
    assert [a["action_id"] for a in everything["actions"]] == ids[::-1]
    first = everything["actions"][-1]
    assert first == {
        "action_id": ids[0],
        "at": first["at"],
        "actor": "ops-1",
        "roles": ["operator"],
        "action": "test.act",
        "target": "alert:A1",
        "detail": {"n": 0},
    }

    def listed(query: str) -> list[str]:
        answer = api.call("GET", f"/v1/admin/actions?{query}", as_user="boss", admin=True)
        assert answer.status == 200, answer.body
        return [a["action_id"] for a in answer.body["actions"]]

    assert listed("actor=ops-1") == [ids[2], ids[0]]
    assert listed("target=run:R1") == [ids[3], ids[2]]
    assert listed("actor=ops-1&target=run:R1") == [ids[2]]
    assert listed("since=2026-12-01T18:02:00%2B09:00") == [ids[3], ids[2]]
    assert listed("actor=nobody") == []
    # a time before any id (even before the epoch) bounds nothing
    assert listed("since=1900-01-01T00:00:00Z") == ids[::-1]
    assert listed("since=0001-01-01T00:00:00Z&target=run:R1") == [ids[3], ids[2]]
    assert listed("since=9999-12-31T23:59:59Z") == []


def test_the_action_log_pages_with_a_cursor_that_stays_in_its_partition(api: Api) -> None:
    ids = _seed(datetime(2026, 12, 1, 9, tzinfo=UTC))
    seen: list[str] = []
    cursor = None
    while True:
        query = "actor=ops-1&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", f"/v1/admin/actions?{query}", as_user="boss", admin=True).body
        seen += [a["action_id"] for a in page["actions"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [ids[2], ids[0]]
    for bad in ["%%%", "bm90LWFuLWlk", "A" * 2000]:
        answer = api.call("GET", f"/v1/admin/actions?cursor={bad}", as_user="boss", admin=True)
        assert (answer.status, answer.body["error"]["code"]) in (
            (400, "invalid_cursor"),
            (400, "invalid_query"),
        )


@pytest.mark.parametrize(
    "since",
    [
        "2026-12-01",
        "2026-12-01T09:00:00",
        "yesterday",
        "9" * 50,
        "0001-01-01T00:00:00%2B09:00",  # before the first UTC instant
        "9999-12-31T23:59:59-09:00",  # after the last
    ],
)
def test_a_since_that_names_no_instant_is_a_400(api: Api, since: str) -> None:
    answer = api.call("GET", f"/v1/admin/actions?since={since}", as_user="boss", admin=True)
    assert (answer.status, answer.body["error"]["code"]) == (400, "invalid_query")


def test_an_entry_is_never_overwritten(aws: object) -> None:
    from pynamodb.exceptions import PutError

    action = new_action(Actor("ops-1", ()), "test.act", "alert:A1", datetime.now(UTC))
    DynamoDbStaffActions.append(action)
    with pytest.raises(PutError):
        DynamoDbStaffActions.append(action)
    assert Item.get("staff", action.action_id).actor == "ops-1"
    assert to_item(action).expires is not None
    page = DynamoDbStaffActions.page(ActionFilter(target="alert:A1"), 10)
    assert [a.action_id for a in page.actions] == [action.action_id]


def test_challenge_and_audit_starts_are_in_the_action_log(api: Api) -> None:
    from chalicelib.domain.clock import seoul_day, utc_now

    today = seoul_day(utc_now())
    body = {
        "title": "December walk",
        "kind": "total_steps",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=7)).isoformat(),
        "target": 50000,
        "prize": {"type": "all_finishers", "points": 100},
    }
    made = api.call("POST", "/v1/admin/challenges", as_user="boss", admin=True, body=body)
    assert made.status == 201, made.body
    started = api.call("POST", "/v1/admin/audit", as_user="fin-1", roles=("finance",))
    assert started.status == 201, started.body
    log = api.call("GET", "/v1/admin/actions", as_user="boss", admin=True).body["actions"]
    assert [(a["action"], a["actor"], a["roles"], a["target"]) for a in log] == [
        ("audit.start", "fin-1", ["finance"], f"audit:{started.body['audit_id']}"),
        ("challenge.create", "boss", ["admin"], f"challenge:{made.body['challenge_id']}"),
    ]
    assert log[1]["detail"] == {
        "title": "December walk",
        "kind": "total_steps",
        "prize": "all_finishers",
    }
    # A finance person may not create challenges; the refusal writes nothing.
    refused = api.call(
        "POST", "/v1/admin/challenges", as_user="fin-1", roles=("finance",), body=body
    )
    assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden_role")
    assert (
        len(api.call("GET", "/v1/admin/actions", as_user="boss", admin=True).body["actions"]) == 2
    )


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00%2B09:00", "9999-12-31T23:59:59-09:00"])
def test_an_instant_outside_utc_is_a_400_on_every_time_query(api: Api, when: str) -> None:
    for path in (f"/v1/admin/actions?since={when}", f"/v1/admin/alerts?updated_since={when}"):
        answer = api.call("GET", path, as_user="boss", admin=True)
        assert (answer.status, answer.body["error"]["code"]) == (400, "invalid_query"), path
