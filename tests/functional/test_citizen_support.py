"""Citizen support (DESIGN §4b) on moto: the exact look-up by phone or id, the citizen's card
and ledger, and corrections proposed by support and approved once by a second person. The
hostile classes of issue 22: every route against every role and none, the proposer and the
citizen as checker, repeats and races of the decisions, odd numbers, texts and points; the
money invariants (DESIGN §6, 1-3) checked after each."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import queues
from chalicelib.domain import roles
from chalicelib.domain.roles import Power
from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    invoke_ledger_changes,
    ledger_stream_event,
    register,
    rule_message,
    sqs_record,
)
from tests.functional.test_table_access import touched, touched_calls

SUPPORT = ("support",)
FINANCE = ("finance",)
PHONE = "010-1234-5678"


def _credit(who: str, points: int, key: str) -> None:
    """A credit through the one ledger posting (what a deposit or a prize writes)."""
    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_ledger import account_of
    from chalicelib.adapters.dynamodb_models import Citizen
    from chalicelib.domain.ledger import Posting

    account = account_of(Citizen.get(who, consistent_read=True))
    wiring.ledger().post(
        Posting(key, account, points, "recycling", {"test": True}, datetime.now(UTC))
    )


def _citizen(api: Api, who: str = "c-1", points: int = 500, phone: str | None = None) -> None:
    register(api, who, phone=phone)
    if points:
        _credit(who, points, f"seed-{who}")


def _propose(
    api: Api, points: int = 100, who: str = "c-1", by: str = "support-1", **extra: Any
) -> dict[str, Any]:
    body = {"points": points, "reason": "robot-002 jammed: 3 cans not credited", **extra}
    made = api.call(
        "POST", f"/v1/admin/citizens/{who}/corrections", as_user=by, roles=SUPPORT, body=body
    )
    assert made.status == 201, made.body
    return dict(made.body)


def _approve(api: Api, correction_id: str, by: str = "finance-1", role: tuple[str, ...] = FINANCE):
    return api.call(
        "POST", f"/v1/admin/corrections/{correction_id}/approve", as_user=by, roles=role
    )


def _reject(api: Api, correction_id: str, note: Any = "not our fault", by: str = "finance-1"):
    return api.call(
        "POST",
        f"/v1/admin/corrections/{correction_id}/reject",
        as_user=by,
        roles=FINANCE,
        body={"note": note},
    )


def _ledger(api: Api, who: str) -> list[dict[str, Any]]:
    return list(api.call("GET", "/v1/me/ledger", as_user=who).body["entries"])


def _actions(api: Api, target: str) -> list[dict[str, Any]]:
    found = api.call("GET", f"/v1/admin/actions?target={target}", as_user="boss", admin=True)
    assert found.status == 200, found.body
    return list(found.body["actions"])


def _books(api: Api, *people: str) -> None:
    """Invariants 2 and 3: each balance is the sum of its ledger (chained, never below
    zero, lifetime totals too), and the city's totals, kept from the ledger's stream (the
    whole stream replayed: counted once), equal the points held."""
    from chalicelib.adapters.dynamodb_ledger import entry_of
    from chalicelib.adapters.dynamodb_models import Citizen, LedgerEntry
    from chalicelib.domain.ledger_audit import AuditedCitizen, audit_citizen

    held = 0
    for who in people:
        row = Citizen.get(who, consistent_read=True)
        audited = AuditedCitizen(
            who, int(row.balance), int(row.lifetime_earned), int(row.lifetime_paid)
        )
        entries = [entry_of(e) for e in LedgerEntry.query(who, consistent_read=True)]
        assert audit_citizen(audited, entries) == []
        assert row.balance >= 0
        held += int(row.balance)
    assert invoke_ledger_changes(ledger_stream_event()) == {"batchItemFailures": []}
    stats = api.call("GET", "/v1/admin/stats", as_user="fin-stats", roles=FINANCE).body
    assert (stats["points_issued"], stats["points_paid"]) == (held, 0)


def _audit_clean(api: Api) -> dict[str, Any]:
    """The ledger audit, run to its end through its real chunk handler: clean and balanced."""
    from tests.functional.test_payouts_api import _drain

    assert invoke_ledger_changes(ledger_stream_event()) == {"batchItemFailures": []}
    started = api.call("POST", "/v1/admin/audit", as_user="auditor", roles=FINANCE)
    assert started.status == 201, started.body
    _drain(queues.AUDIT_CHUNKS, duplicate=True)
    done = api.call("GET", "/v1/admin/audit", as_user="auditor", roles=FINANCE).body
    assert done["status"] == "done" and done["discrepancies"] == [], done
    assert done["totals"]["balanced"] is True, done
    return dict(done)


# -- Look-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["010-1234-5678", "01012345678", "+82 10-1234-5678", "+82-10-1234-5678", "+821012345678",
     "82 10 1234 5678", "010.1234.5678", "(010) 1234-5678", "+82 (0)10 1234 5678",
     " 82 10-1234-5678"],  # the last: `+` unescaped in a query string reads as a space
)  # fmt: skip
def test_a_phone_is_found_however_it_is_written(api: Api, written: str) -> None:
    from urllib.parse import quote

    _citizen(api, "c-1", 700, phone=PHONE)
    found = api.call(
        "GET", f"/v1/admin/citizens?phone={quote(written)}", as_user="s-1", roles=SUPPORT
    )
    assert found.status == 200, found.body
    (card,) = found.body["citizens"]
    assert card == {
        "citizen_id": "c-1",
        "display_name": "c-1",
        "district": "naeoe-dong",
        "phone_linked": True,
        "payout_account": None,
        "balance": 700,
        "lifetime_earned": 700,
        "lifetime_paid": 0,
        "created_at": card["created_at"],
        "status": "active",
    }
    assert "5678" not in str(found.body) and "phone" not in card


def test_a_look_up_is_exact_and_at_most_two_reads(api: Api) -> None:
    _citizen(api, "c-1", 0, phone=PHONE)
    put = api.call(
        "PUT",
        "/v1/me/payout-account",
        as_user="c-1",
        body={"bank": "NH", "account_number": "302-1234-5678-91", "holder": "김민수"},
    )
    assert put.status == 200, put.body
    _citizen(api, "c-2", 0)
    with touched_calls() as calls:
        by_phone = api.call(
            "GET", "/v1/admin/citizens?phone=01012345678", as_user="s", roles=SUPPORT
        )
    assert calls == {"GetItem": 1, "BatchGetItem": 1}
    assert by_phone.body["citizens"][0]["payout_account"]["account_number"] == "******7891"
    with touched_calls() as calls:
        by_id = api.call("GET", "/v1/admin/citizens?citizen_id=c-2", as_user="s", roles=SUPPORT)
    assert calls == {"BatchGetItem": 1}
    assert [c["citizen_id"] for c in by_id.body["citizens"]] == ["c-2"]
    assert by_id.body["citizens"][0]["phone_linked"] is False
    # No partial match, no listing: a prefix, another number, an unknown id find nobody.
    for query in ("citizen_id=c-", "citizen_id=C-2", "phone=01012345679", "citizen_id=nobody"):
        none = api.call("GET", f"/v1/admin/citizens?{query}", as_user="s", roles=SUPPORT)
        assert (none.status, none.body) == (200, {"citizens": []}), query
    with touched_calls() as calls:
        card = api.call("GET", "/v1/admin/citizens/c-1", as_user="s", roles=SUPPORT)
    assert calls == {"BatchGetItem": 1} and card.body == by_phone.body["citizens"][0]


@pytest.mark.parametrize(
    "query",
    ["", "?phone=01012345678&citizen_id=c-1", "?phone=1234", "?phone=%EF%BC%90101234" + "5678",
     "?phone=010-1234-5678%00", "?phone=" + "1" * 41, "?phone=01012345678&phone=01012345678",
     "?citizen_id=" + "a" * 257, "?citizen_id=c-1%0A", "?citizen_id=c-1&citizen_id=c-2",
     "?phone=", "?name=c-1"],
)  # fmt: skip
def test_a_look_up_names_exactly_one_valid_key_or_is_a_400(api: Api, query: str) -> None:
    _citizen(api, "c-1", 0, phone=PHONE)
    answer = api.call("GET", f"/v1/admin/citizens{query}", as_user="s", roles=SUPPORT)
    assert answer.status == 400, answer.body
    assert "5678" not in str(answer.body)  # the number is never echoed back


def test_the_phone_is_never_logged(api: Api, app_log: io.StringIO) -> None:
    """At DEBUG, for a number held, one held by nobody and one malformed: no log line, no
    answer holds its digits. (`app_log`: capsys never saw the app's lines.)"""
    from chalicelib import wiring

    _citizen(api, "c-1", 0, phone=PHONE)
    answers = [
        api.call("GET", f"/v1/admin/citizens?{query}", as_user="s", roles=SUPPORT).body
        for query in ("phone=010-1234-5678", "phone=010-9999-5678", "phone=010-12-5678")
    ]
    wiring.logger.debug("the capture works")
    logged = app_log.getvalue()
    assert "the capture works" in logged
    assert "1234-5678" not in logged and "9999-5678" not in logged and "12345678" not in logged
    assert "5678" not in str(answers[1:])


def test_a_citizen_and_their_ledger_for_support(api: Api) -> None:
    _citizen(api, "c-1", 300)
    _credit("c-1", 40, "seed-c-1-b")
    page = api.call("GET", "/v1/admin/citizens/c-1/ledger?limit=1", as_user="s", roles=SUPPORT)
    assert page.status == 200 and page.body == {
        "entries": [page.body["entries"][0]],
        "next_cursor": page.body["next_cursor"],
    }
    assert page.body["entries"][0]["points"] == 40
    assert set(page.body["entries"][0]) == {
        "entry_id", "kind", "points", "balance_after", "created_at", "detail"
    }  # fmt: skip
    cursor = page.body["next_cursor"]
    rest = api.call(
        "GET", f"/v1/admin/citizens/c-1/ledger?limit=5&cursor={cursor}", as_user="s", roles=SUPPORT
    )
    assert [e["points"] for e in rest.body["entries"]] == [300]
    # the citizen's own view is the same ledger
    assert _ledger(api, "c-1") == page.body["entries"] + rest.body["entries"]
    # another citizen's cursor reads nothing of theirs: a 400
    _citizen(api, "c-2", 10)
    other = api.call(
        "GET", f"/v1/admin/citizens/c-2/ledger?cursor={cursor}", as_user="s", roles=SUPPORT
    )
    assert (other.status, other.body["error"]["code"]) == (400, "invalid_cursor")
    for path in ("/v1/admin/citizens/nobody", "/v1/admin/citizens/nobody/ledger"):
        missing = api.call("GET", path, as_user="s", roles=SUPPORT)
        assert (missing.status, missing.body["error"]["code"]) == (404, "citizen_not_found")
    odd = api.call("GET", "/v1/admin/citizens/%E2%80%AEc-1", as_user="s", roles=SUPPORT)
    assert (odd.status, odd.body["error"]["code"]) == (404, "citizen_not_found")


# -- Every route against every role and none ----------------------------------------------

ROUTES = [
    ("GET", "/v1/admin/citizens?citizen_id=c-1", Power.CITIZENS, None),
    ("GET", "/v1/admin/citizens/c-1", Power.CITIZENS, None),
    ("GET", "/v1/admin/citizens/c-1/ledger", Power.CITIZENS, None),
    ("POST", "/v1/admin/citizens/c-1/corrections", Power.CORRECTIONS_PROPOSE,
     {"points": 5, "reason": "goodwill"}),
    ("GET", "/v1/admin/corrections", Power.CORRECTIONS_READ, None),
    ("GET", "/v1/admin/corrections/{id}", Power.CORRECTIONS_READ, None),
    ("POST", "/v1/admin/corrections/{id}/approve", Power.CORRECTIONS_APPROVE, None),
    ("POST", "/v1/admin/corrections/{id}/reject", Power.CORRECTIONS_APPROVE, {"note": "no"}),
]  # fmt: skip
CALLERS = [*roles.ROLES, "citizen", "Admin", "admin ", "SUPPORT", "support,finance"]


@pytest.mark.parametrize(("method", "path", "power", "body"), ROUTES, ids=[r[1] for r in ROUTES])
@pytest.mark.parametrize("role", CALLERS)
def test_each_route_answers_exactly_the_roles_that_hold_its_power(
    api: Api, method: str, path: str, power: Power, body: Any, role: str
) -> None:
    _citizen(api)
    correction = _propose(api)
    path = path.replace("{id}", correction["correction_id"])
    answer = api.call(method, path, as_user="staff-x", roles=(role,), body=body)
    if role in roles.roles_for(power):
        assert answer.status in (200, 201), answer.body
    else:
        assert answer.status == 403, answer.body
        assert answer.body["error"]["code"] == "forbidden_role"
        assert answer.body["error"]["details"] == [{"roles": list(roles.roles_for(power))}]
    if method == "POST" and answer.status == 403:
        # nothing was written: still pending, no entry, no action but the proposal's
        still = api.call(
            "GET", f"/v1/admin/corrections/{correction['correction_id']}", as_user="b", admin=True
        )
        assert still.body["status"] == "pending"
        assert [e["kind"] for e in _ledger(api, "c-1")] == ["recycling"]
        assert (
            len(api.call("GET", "/v1/admin/actions", as_user="b", admin=True).body["actions"]) == 1
        )
    _books(api, "c-1")


@pytest.mark.parametrize(("method", "path", "power", "body"), ROUTES, ids=[r[1] for r in ROUTES])
@pytest.mark.parametrize("token", [None, "not-a-jwt", "a.b.c"])
def test_each_route_refuses_a_caller_without_a_valid_token(
    api: Api, method: str, path: str, power: Power, body: Any, token: str | None
) -> None:
    path = path.replace("{id}", "01KC0000000000000000000000")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = api.call(method, path, headers=headers, body=body)
    assert answer.status == 401, answer.body


# -- Corrections: proposing ---------------------------------------------------------------


def test_support_proposes_and_the_proposal_is_logged_in_its_transaction(api: Api) -> None:
    _citizen(api)
    with touched_calls() as calls:
        made = _propose(api, 250, reference="ticket-2026-1207-03")
    assert calls == {"TransactWriteItems": 1}
    assert made == {
        "correction_id": made["correction_id"],
        "citizen_id": "c-1",
        "points": 250,
        "reason": "robot-002 jammed: 3 cans not credited",
        "reference": "ticket-2026-1207-03",
        "status": "pending",
        "proposed_by": "support-1",
        "proposed_at": made["proposed_at"],
        "decided_by": None,
        "decided_at": None,
        "note": None,
        "entry_id": None,
        "balance_after": None,
    }
    (action,) = _actions(api, f"correction:{made['correction_id']}")
    assert (action["action"], action["actor"], action["roles"]) == (
        "correction.propose", "support-1", ["support"],
    )  # fmt: skip
    assert action["detail"]["points"] == 250 and action["detail"]["citizen_id"] == "c-1"
    queue = api.call("GET", "/v1/admin/corrections", as_user="f", roles=FINANCE).body
    assert [c["correction_id"] for c in queue["corrections"]] == [made["correction_id"]]
    # nothing moved yet
    assert [e["kind"] for e in _ledger(api, "c-1")] == ["recycling"]
    _books(api, "c-1")


def test_a_repeated_proposal_is_the_first_one_and_racing_repeats_make_one(api: Api) -> None:
    """A double submit, a retry after a lost answer, or eight at once: one proposal, one
    action; the repeats answer 200 with it. Another reference, or another person, is a new
    proposal."""
    _citizen(api, "c-1", 500)
    first = _propose(api, 40, reference="call-1")
    body = {"points": 40, "reason": first["reason"], "reference": "call-1"}
    path = "/v1/admin/citizens/c-1/corrections"
    start = threading.Barrier(8)

    def propose(_: int) -> tuple[int, Any]:
        start.wait()
        answer = api.call("POST", path, as_user="support-1", roles=SUPPORT, body=body)
        return answer.status, answer.body

    with ThreadPoolExecutor(8) as pool:
        repeats = list(pool.map(propose, range(8)))
    assert repeats == [(200, first)] * 8
    # the same words with another reference, or from another person: new proposals
    other = api.call(
        "POST", path, as_user="support-1", roles=SUPPORT, body={**body, "reference": "call-2"}
    )
    assert other.status == 201 and other.body["correction_id"] != first["correction_id"]
    colleague = api.call("POST", path, as_user="support-2", roles=SUPPORT, body=body)
    assert colleague.status == 201
    queue = api.call("GET", "/v1/admin/corrections", as_user="f", roles=FINANCE).body
    assert len(queue["corrections"]) == 3
    assert len(api.call("GET", "/v1/admin/actions", as_user="b", admin=True).body["actions"]) == 3
    # decided, it is still the same proposal within the day: no second approval to give
    assert _approve(api, first["correction_id"]).status == 200
    again = api.call("POST", path, as_user="support-1", roles=SUPPORT, body=body)
    assert (again.status, again.body["status"]) == (200, "approved")
    _books(api, "c-1")


def test_racing_first_proposals_make_one(api: Api) -> None:
    _citizen(api, "c-1", 500)
    body = {"points": -25, "reason": "double credit on 12-06"}
    start = threading.Barrier(6)

    def propose(_: int) -> tuple[int, str]:
        start.wait()
        answer = api.call(
            "POST",
            "/v1/admin/citizens/c-1/corrections",
            as_user="support-1",
            roles=SUPPORT,
            body=body,
        )
        return answer.status, answer.body.get("correction_id", answer.body)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(propose, range(6)))
    assert sorted(status for status, _ in results) in ([200] * 5 + [201], [200] * 4 + [201, 409])
    assert len({cid for status, cid in results if status in (200, 201)}) == 1
    queue = api.call("GET", "/v1/admin/corrections", as_user="f", roles=FINANCE).body
    assert len(queue["corrections"]) == 1


def test_a_proposal_for_nobody_is_a_404_and_writes_nothing(api: Api) -> None:
    answer = api.call(
        "POST",
        "/v1/admin/citizens/nobody/corrections",
        as_user="support-1",
        roles=SUPPORT,
        body={"points": 5, "reason": "goodwill"},
    )
    assert (answer.status, answer.body["error"]["code"]) == (404, "citizen_not_found")
    assert api.call("GET", "/v1/admin/actions", as_user="b", admin=True).body["actions"] == []
    queue = api.call("GET", "/v1/admin/corrections", as_user="f", roles=FINANCE).body
    assert queue["corrections"] == []


@pytest.mark.parametrize(
    ("points", "status"),
    [("5", 400), (5.0, 400), (True, 400), (False, 400), (None, 400), ([5], 400),
     ({"n": 5}, 400), (0, 422), (100_001, 422), (-100_001, 422), (10**30, 422),
     (100_000, 201), (-100_000, 201), (1, 201), (-1, 201)],
)  # fmt: skip
def test_points_are_a_non_zero_integer_within_bounds(api: Api, points: Any, status: int) -> None:
    _citizen(api)
    answer = api.call(
        "POST",
        "/v1/admin/citizens/c-1/corrections",
        as_user="support-1",
        roles=SUPPORT,
        body={"points": points, "reason": "goodwill"},
    )
    assert answer.status == status, answer.body
    if status == 422:
        assert answer.body["error"]["code"] == "invalid_points"
    if status != 201:
        assert api.call("GET", "/v1/admin/actions", as_user="b", admin=True).body["actions"] == []


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [("reason", "", 422), ("reason", "   ", 422), ("reason", "x" * 201, 422),
     ("reason", "x" * 5000, 422), ("reason", "bad\x00byte", 422), ("reason", "two\nlines", 422),
     ("reason", "tab\there", 422), ("reason", "\u202egnp.exe", 422),
     ("reason", "zero\u200bwidth", 422),
     ("reason", "\u0301lone mark", 422), ("reason", 5, 400), ("reason", None, 400),
     ("reference", "r" * 101, 422), ("reference", "ref\x1b[31m", 422), ("reference", 7, 400),
     ("extra", "x", 400),
     ("reason", "x" * 200, 201), ("reason", "  캔 3개  미적립  ", 201), ("reference", None, 201),
     ("reference", "r" * 100, 201)],
)  # fmt: skip
def test_texts_are_bounded_and_free_of_control_characters(
    api: Api, field: str, value: Any, status: int
) -> None:
    _citizen(api)
    body = {"points": 5, "reason": "goodwill", field: value}
    answer = api.call(
        "POST", "/v1/admin/citizens/c-1/corrections", as_user="s-1", roles=SUPPORT, body=body
    )
    assert answer.status == status, answer.body
    if status == 422:
        assert answer.body["error"]["code"] == f"invalid_{field}"
    if field == "reason" and status == 201:
        assert answer.body["reason"] == " ".join(value.split())


def test_an_oversize_body_is_a_413(api: Api) -> None:
    _citizen(api)
    body = {"points": 5, "reason": "x" * 2_000_000}
    answer = api.call(
        "POST", "/v1/admin/citizens/c-1/corrections", as_user="s-1", roles=SUPPORT, body=body
    )
    assert answer.status == 413, answer.body


def test_nobody_proposes_a_correction_of_their_own_points(api: Api) -> None:
    _citizen(api, "support-1")
    answer = api.call(
        "POST",
        "/v1/admin/citizens/support-1/corrections",
        as_user="support-1",
        roles=SUPPORT,
        body={"points": 5000, "reason": "goodwill"},
    )
    assert (answer.status, answer.body["error"]["code"]) == (403, "own_account")


# -- Corrections: approving ---------------------------------------------------------------


def test_a_finance_person_approves_once_into_the_ledger(api: Api) -> None:
    _citizen(api, "c-1", 500)
    made = _propose(api, 120, reference="ticket-9")
    with touched_calls() as calls:
        approved = _approve(api, made["correction_id"])
    assert approved.status == 200, approved.body
    assert calls == {"GetItem": 2, "TransactWriteItems": 1}
    body = approved.body
    assert (body["status"], body["decided_by"], body["balance_after"]) == (
        "approved",
        "finance-1",
        620,
    )
    newest = _ledger(api, "c-1")[0]
    assert newest == {
        "entry_id": body["entry_id"],
        "kind": "correction",
        "points": 120,
        "balance_after": 620,
        "created_at": body["decided_at"],
        "detail": {
            "correction_id": made["correction_id"],
            "reason": "robot-002 jammed: 3 cans not credited",
            "reference": "ticket-9",
        },
    }
    me = api.call("GET", "/v1/me", as_user="c-1").body
    assert (me["balance"], me["lifetime_earned"]) == (620, 620)
    actions = _actions(api, f"correction:{made['correction_id']}")
    assert [(a["action"], a["actor"]) for a in actions] == [
        ("correction.approve", "finance-1"),
        ("correction.propose", "support-1"),
    ]
    assert actions[0]["detail"] == {"citizen_id": "c-1", "points": 120}
    # repeated by the same person: the same answer, nothing posted again
    again = _approve(api, made["correction_id"])
    assert (again.status, again.body) == (200, body)
    # by another: a 409 naming who decided
    other = _approve(api, made["correction_id"], by="finance-2")
    assert (other.status, other.body["error"]["code"]) == (409, "correction_decided")
    assert other.body["error"]["details"] == [{"status": "approved", "decided_by": "finance-1"}]
    late_reject = _reject(api, made["correction_id"], by="finance-2")
    assert (late_reject.status, late_reject.body["error"]["code"]) == (409, "correction_decided")
    own_reject = _reject(api, made["correction_id"])
    assert own_reject.status == 409
    assert [e["kind"] for e in _ledger(api, "c-1")] == ["correction", "recycling"]
    assert len(_actions(api, f"correction:{made['correction_id']}")) == 2
    for status, expected in (("approved", 1), ("pending", 0), ("rejected", 0)):
        queue = api.call(
            "GET", f"/v1/admin/corrections?status={status}", as_user="s", roles=SUPPORT
        )
        assert len(queue.body["corrections"]) == expected
    _books(api, "c-1")
    _audit_clean(api)


def test_a_debit_below_zero_is_refused_and_stays_pending_until_it_fits(api: Api) -> None:
    _citizen(api, "c-1", 100)
    made = _propose(api, -150)
    refused = _approve(api, made["correction_id"])
    assert (refused.status, refused.body["error"]["code"]) == (409, "insufficient_balance")
    assert refused.body["error"]["details"] == [{"balance": 100, "points": -150}]
    still = api.call(
        "GET", f"/v1/admin/corrections/{made['correction_id']}", as_user="f", roles=FINANCE
    )
    assert still.body["status"] == "pending"
    assert len(_actions(api, f"correction:{made['correction_id']}")) == 1
    _books(api, "c-1")
    _credit("c-1", 60, "seed-c-1-more")
    approved = _approve(api, made["correction_id"], by="finance-2")
    assert approved.status == 200 and approved.body["balance_after"] == 10
    me = api.call("GET", "/v1/me", as_user="c-1").body
    # a debit lowers what the city issued: it takes back points it should not have issued
    assert (me["balance"], me["lifetime_earned"], me["lifetime_paid"]) == (10, 10, 0)
    _books(api, "c-1")
    _audit_clean(api)


@pytest.mark.parametrize(
    ("proposer", "proposer_roles", "approver", "approver_roles", "code"),
    [
        ("admin-1", ("admin",), "admin-1", ("admin",), "same_person"),
        ("multi-1", ("support", "finance"), "multi-1", ("support", "finance"), "same_person"),
        ("support-1", SUPPORT, "c-1", ("finance",), "own_account"),
        ("support-1", SUPPORT, "support-1", SUPPORT, "forbidden_role"),
        ("support-1", SUPPORT, "support-2", SUPPORT, "forbidden_role"),
        ("support-1", SUPPORT, "operator-1", ("operator",), "forbidden_role"),
    ],
)
def test_the_checker_is_another_person_with_the_power_and_not_the_citizen(
    api: Api,
    proposer: str,
    proposer_roles: tuple[str, ...],
    approver: str,
    approver_roles: tuple[str, ...],
    code: str,
) -> None:
    _citizen(api, "c-1", 500)
    made = api.call(
        "POST",
        "/v1/admin/citizens/c-1/corrections",
        as_user=proposer,
        roles=proposer_roles,
        body={"points": 70, "reason": "goodwill"},
    )
    assert made.status == 201, made.body
    correction_id = made.body["correction_id"]
    for verb, body in (("approve", None), ("reject", {"note": "withdrawn"})):
        answer = api.call(
            "POST",
            f"/v1/admin/corrections/{correction_id}/{verb}",
            as_user=approver,
            roles=approver_roles,
            body=body,
        )
        assert (answer.status, answer.body["error"]["code"]) == (403, code), verb
    assert [e["kind"] for e in _ledger(api, "c-1")] == ["recycling"]
    assert len(_actions(api, f"correction:{correction_id}")) == 1
    _books(api, "c-1")


@pytest.mark.parametrize("same_person", [False, True])
def test_racing_approvals_post_exactly_once(api: Api, same_person: bool) -> None:
    """Eight approvals at once (by eight people, or one person's eight retries): one
    posting; the others answer as a repeat would (200 for its approver, 409 for the rest)."""
    _citizen(api, "c-1", 500)
    made = _propose(api, 300)
    people = ["finance-1"] * 8 if same_person else [f"finance-{n}" for n in range(8)]
    start = threading.Barrier(len(people))

    def approve(person: str) -> tuple[int, Any]:
        start.wait()
        answer = _approve(api, made["correction_id"], by=person)
        return answer.status, answer.body

    with ThreadPoolExecutor(len(people)) as pool:
        results = list(pool.map(approve, people))
    winners = [body for status, body in results if status == 200]
    assert {status for status, _ in results} <= {200, 409}
    assert all(
        body["error"]["code"] in ("correction_decided", "try_again")
        for status, body in results
        if status == 409
    )
    entries = [e for e in _ledger(api, "c-1") if e["kind"] == "correction"]
    assert len(entries) == 1 and entries[0]["balance_after"] == 800
    decided_by = {body["decided_by"] for body in winners}
    assert len(decided_by) == 1 and len(winners) >= 1
    if not same_person:
        assert len(winners) == 1
    approvals = [
        a
        for a in _actions(api, f"correction:{made['correction_id']}")
        if a["action"] == "correction.approve"
    ]
    assert [a["actor"] for a in approvals] == list(decided_by)
    _books(api, "c-1")


def test_an_approval_racing_a_rejection_decides_once(api: Api) -> None:
    _citizen(api, "c-1", 500)
    made = _propose(api, -200)
    start = threading.Barrier(2)

    def decide(verb: str) -> int:
        start.wait()
        answer = (
            _approve(api, made["correction_id"], by="finance-1")
            if verb == "approve"
            else _reject(api, made["correction_id"], by="finance-2")
        )
        return answer.status

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(decide, ["approve", "reject"]))
    assert sorted(statuses) == [200, 409]
    final = api.call(
        "GET", f"/v1/admin/corrections/{made['correction_id']}", as_user="f", roles=FINANCE
    ).body
    corrections = [e for e in _ledger(api, "c-1") if e["kind"] == "correction"]
    assert len(corrections) == (1 if final["status"] == "approved" else 0)
    decisions = [
        a
        for a in _actions(api, f"correction:{made['correction_id']}")
        if a["action"] != "correction.propose"
    ]
    assert len(decisions) == 1
    _books(api, "c-1")


def test_a_debit_racing_deposits_never_takes_the_balance_below_zero(api: Api) -> None:
    """A debit approved while robots credit the same citizen: the posting is conditioned on
    the balance it read, so it lands on a balance that covers it, or is refused."""
    _citizen(api, "c-1", 0, phone=PHONE)
    made = _propose(api, -40)
    records = [
        sqs_record(
            rule_message("robot-001", deposit(f"evt-race-{n:04d}", phone=PHONE, can=1)), f"m{n}"
        )
        for n in range(6)
    ]
    start = threading.Barrier(2)

    def deposits() -> Any:
        start.wait()
        return invoke_deposits(records)

    def approve() -> int:
        start.wait()
        return _approve(api, made["correction_id"]).status

    with ThreadPoolExecutor(2) as pool:
        credited = pool.submit(deposits)
        approved = pool.submit(approve)
        assert credited.result() == {"batchItemFailures": []}
        first = approved.result()
    assert first in (200, 409)
    if first == 409:
        assert _approve(api, made["correction_id"]).status == 200
    me = api.call("GET", "/v1/me", as_user="c-1").body
    credited_points = sum(e["points"] for e in _ledger(api, "c-1") if e["kind"] == "recycling")
    assert credited_points > 40 and me["balance"] == credited_points - 40
    _books(api, "c-1")


# -- Corrections: rejecting ---------------------------------------------------------------


def test_a_rejection_records_its_note_and_moves_nothing(api: Api) -> None:
    _citizen(api, "c-1", 500)
    made = _propose(api, 90)
    with touched_calls() as calls:
        rejected = _reject(api, made["correction_id"], note="  already credited on 12-01  ")
    assert calls == {"GetItem": 1, "TransactWriteItems": 1}
    assert rejected.status == 200, rejected.body
    assert (rejected.body["status"], rejected.body["note"], rejected.body["decided_by"]) == (
        "rejected", "already credited on 12-01", "finance-1",
    )  # fmt: skip
    again = _reject(api, made["correction_id"], note="another note")
    assert (again.status, again.body) == (200, rejected.body)
    approve = _approve(api, made["correction_id"], by="finance-2")
    assert (approve.status, approve.body["error"]["code"]) == (409, "correction_decided")
    actions = _actions(api, f"correction:{made['correction_id']}")
    assert [a["action"] for a in actions] == ["correction.reject", "correction.propose"]
    assert actions[0]["detail"]["note"] == "already credited on 12-01"
    assert [e["kind"] for e in _ledger(api, "c-1")] == ["recycling"]
    queue = api.call("GET", "/v1/admin/corrections?status=rejected", as_user="s", roles=SUPPORT)
    assert [c["correction_id"] for c in queue.body["corrections"]] == [made["correction_id"]]
    _books(api, "c-1")


@pytest.mark.parametrize(
    ("note", "status"),
    [("", 422), ("  ", 422), ("n" * 501, 422), ("bad\x07bell", 422), ("line\nbreak", 422),
     ("\ufeffbom", 422), (5, 400), (None, 400), ("n" * 500, 200)],
)  # fmt: skip
def test_a_rejection_note_is_bounded_and_free_of_control_characters(
    api: Api, note: Any, status: int
) -> None:
    _citizen(api, "c-1", 500)
    made = _propose(api, 90)
    answer = _reject(api, made["correction_id"], note=note)
    assert answer.status == status, answer.body
    if status == 422:
        assert answer.body["error"]["code"] == "invalid_note"
    still = api.call(
        "GET", f"/v1/admin/corrections/{made['correction_id']}", as_user="f", roles=FINANCE
    )
    assert still.body["status"] == ("rejected" if status == 200 else "pending")
    missing = api.call(
        "POST", f"/v1/admin/corrections/{made['correction_id']}/reject", as_user="f", roles=FINANCE
    )
    assert missing.status in (400, 409)


@pytest.mark.parametrize(
    "correction_id", ["01KC0000000000000000000000", "nope", "01kc0000000000000000000000", "x" * 27]
)
def test_unknown_or_malformed_correction_ids_are_a_404(api: Api, correction_id: str) -> None:
    for method, suffix, body in (
        ("GET", "", None), ("POST", "/approve", None), ("POST", "/reject", {"note": "n"}),
    ):  # fmt: skip
        answer = api.call(
            method,
            f"/v1/admin/corrections/{correction_id}{suffix}",
            as_user="a",
            admin=True,
            body=body,
        )
        assert (answer.status, answer.body["error"]["code"]) == (404, "correction_not_found")


# -- The queue ------------------------------------------------------------------------------


def test_the_queue_pages_newest_first_by_status_on_its_index(api: Api) -> None:
    _citizen(api, "c-1", 500)
    made = [_propose(api, n + 1)["correction_id"] for n in range(5)]
    _approve(api, made[1])
    with touched_calls() as calls:
        first = api.call("GET", "/v1/admin/corrections?limit=2", as_user="s", roles=SUPPORT).body
    assert calls == {"Query": 1}
    assert [c["correction_id"] for c in first["corrections"]] == [made[4], made[3]]
    second = api.call(
        "GET",
        f"/v1/admin/corrections?limit=2&cursor={first['next_cursor']}",
        as_user="s",
        roles=SUPPORT,
    ).body
    assert [c["correction_id"] for c in second["corrections"]] == [made[2], made[0]]
    assert (
        second["next_cursor"] is None
        or api.call(
            "GET",
            f"/v1/admin/corrections?limit=2&cursor={second['next_cursor']}",
            as_user="s",
            roles=SUPPORT,
        ).body["corrections"]
        == []
    )
    # a cursor of one status continues no other
    crossed = api.call(
        "GET",
        f"/v1/admin/corrections?status=approved&cursor={first['next_cursor']}",
        as_user="s",
        roles=SUPPORT,
    )
    assert (crossed.status, crossed.body["error"]["code"]) == (400, "invalid_cursor")
    for query in (
        "status=open",
        "status=PENDING",
        "limit=0",
        "limit=201",
        "cursor=%00",
        "cursor=abc",
    ):
        bad = api.call("GET", f"/v1/admin/corrections?{query}", as_user="s", roles=SUPPORT)
        assert bad.status == 400, query


def test_support_routes_touch_only_the_declared_tables(api: Api) -> None:
    from chalicelib.table_access import TABLES_BY_FUNCTION

    declared = {model.__name__ for model in TABLES_BY_FUNCTION["api_handler"]}
    _citizen(api, "c-1", 500, phone=PHONE)
    with touched() as tables:
        api.call("GET", "/v1/admin/citizens?phone=01012345678", as_user="s", roles=SUPPORT)
        api.call("GET", "/v1/admin/citizens/c-1/ledger", as_user="s", roles=SUPPORT)
        made = _propose(api, 5)
        _approve(api, made["correction_id"])
        _reject(api, _propose(api, 6)["correction_id"])
        api.call("GET", "/v1/admin/corrections", as_user="s", roles=SUPPORT)
    assert {"Correction", "StaffAction", "LedgerEntry"} <= tables <= declared


def test_an_approval_that_lost_the_race_after_reading_answers_as_a_repeat(api: Api) -> None:
    """A deterministic interleaving of the race above: the second approval reads the
    correction pending and the account, then the first posts, then the second posts on what
    it read. The guard and the `pending` condition refuse it whole; it reads again and
    answers 409 (another person decided)."""
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.adapters.dynamodb_corrections import DynamoDbCorrections
    from chalicelib.adapters.dynamodb_ledger import DynamoDbLedger
    from chalicelib.domain.clock import utc_now
    from chalicelib.domain.staff_actions import Actor
    from chalicelib.errors import Conflict
    from chalicelib.services.corrections import CorrectionService

    _citizen(api, "c-1", 500)
    made = _propose(api, -500)
    correction_id = made["correction_id"]

    class FirstApprovalLandsAfterThisRead(DynamoDbCitizens):
        landed = False

        def get(self, citizen_id: str) -> Any:
            read = super().get(citizen_id)
            if not self.landed:
                self.landed = True
                assert _approve(api, correction_id, by="finance-1").status == 200
            return read

    service = CorrectionService(
        DynamoDbCorrections(), FirstApprovalLandsAfterThisRead(), DynamoDbLedger(10_000), utc_now
    )
    with pytest.raises(Conflict) as lost:
        service.approve(correction_id, Actor("finance-2", ("finance",)))
    assert lost.value.code == "correction_decided"
    assert [e["points"] for e in _ledger(api, "c-1")] == [-500, 500]
    assert len(_actions(api, f"correction:{correction_id}")) == 2
    _books(api, "c-1")
