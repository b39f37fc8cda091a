"""Finance controls (DESIGN §4b) through the real routes and handlers on moto: only a month
that has ended is run; runs are listed newest first; the citizens a run skipped are listed
with their reason; a second person approves a run before its export and settlement; every
export records its file's SHA-256; every staff write is one entry of the action log; the
recycling report by district and material. Hostile classes: every route against every role
and none, the starter approving, approving a running or settled run, export and settlement
before approval, bad periods, two approvals at once, tampered cursors; the money
invariants (the ledger audit: 2 and 3) checked after each."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from typing import Any

import pytest

from chalicelib import queues
from chalicelib.domain import roles
from chalicelib.domain.clock import seoul_day, utc_now
from tests.functional.conftest import Api
from tests.functional.test_payouts_api import _credit, _drain, _raw_get, _register

RUN = "payout-2026-11"
BASE = f"/v1/admin/payout-runs/{RUN}"


def _call(api: Api, method: str, path: str, who: str, role: str = "finance", **kw: Any) -> Any:
    return api.call(method, path, as_user=who, roles=(role,), **kw)


def _start(api: Api, period: str = "2026-11", who: str = "fin-a") -> Any:
    return _call(api, "POST", "/v1/admin/payout-runs", who, body={"period": period})


def _ready_run(api: Api) -> None:
    """A November run, started by fin-a: p1 and p2 paid, n1 and n2 without an account."""
    for who, points, account in (("p1", 2000, True), ("p2", 3500, True),
                                 ("n1", 2600, False), ("n2", 2100, False)):  # fmt: skip
        _register(api, who, None if not account else {
            "bank": "KB", "account_number": "123456-01-234567", "holder": "박 서연"})  # fmt: skip
        _credit(who, points, f"seed-{who}")
    assert _start(api).status == 201
    _drain(queues.PAYOUT_CHUNKS)


def _approve(api: Api, who: str = "fin-b", role: str = "finance") -> Any:
    return _call(api, "POST", f"{BASE}/approve", who, role)


def _log(api: Api, target: str = f"run:{RUN}") -> list[tuple[str, str]]:
    got = api.call("GET", f"/v1/admin/actions?target={target}", as_user="boss", admin=True)
    assert got.status == 200, got.body
    return [(a["action"], a["actor"]) for a in reversed(got.body["actions"])]


def _audit_clean(api: Api) -> dict[str, Any]:
    """Invariants 2 and 3, as the ledger audit checks them (every ledger chains to its
    balance, none below zero; issued == paid + held + pending against the runs)."""
    import time

    time.sleep(0.002)  # audits sort by their start (milliseconds)
    assert api.call("POST", "/v1/admin/audit", as_user="auditor", admin=True).status == 201
    _drain(queues.AUDIT_CHUNKS)
    audit = api.call("GET", "/v1/admin/audit", as_user="auditor", admin=True).body
    assert audit["status"] == "done", audit
    assert audit["discrepancy_count"] == 0, audit["discrepancies"]
    assert audit["totals"]["balanced"] is True, audit["totals"]
    return dict(audit)


def _balance(api: Api, who: str) -> int:
    return int(api.call("GET", "/v1/me", as_user=who).body["balance"])


# Every route against every role and none --------------------------------------------------

ROUTES = [
    ("GET", "/v1/admin/payout-runs", roles.Power.PAYOUTS),
    ("POST", "/v1/admin/payout-runs", roles.Power.PAYOUTS),
    ("GET", BASE, roles.Power.PAYOUTS),
    ("GET", f"{BASE}/skipped", roles.Power.PAYOUTS),
    ("POST", f"{BASE}/approve", roles.Power.PAYOUTS),
    ("GET", f"{BASE}/export", roles.Power.PAYOUTS),
    ("POST", f"{BASE}/settle", roles.Power.PAYOUTS),
    ("GET", "/v1/admin/reports/recycling?month=2026-11", roles.Power.REPORTS),
    ("GET", "/v1/admin/reports/recycling/2026-11.csv", roles.Power.REPORTS),
]
CALLERS = [*roles.ROLES, "citizen", "Finance", "finance ", "admin,finance", "root"]


@pytest.mark.slow  # 90 calls, each on a ready run put back from a snapshot: the slow tier
@pytest.mark.parametrize(
    ("method", "path", "power"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
@pytest.mark.parametrize("role", CALLERS)
def test_every_finance_route_answers_exactly_its_roles(
    api: Api, prebuilt: Any, method: str, path: str, power: roles.Power, role: str
) -> None:
    # GIVEN a ready run started by someone else (built once, then put back from moto's state)
    prebuilt("a ready run", lambda: _ready_run(api))
    body = {"period": "2026-10"} if method == "POST" and path.endswith("runs") else None
    if path.endswith("/settle"):
        body = {"paid": ["p1"]}
    status, answer = _any_call(api, method, path, role, body)
    if role in roles.roles_for(power):
        assert status not in (401, 403) and status < 500, answer
    else:
        assert status == 403, answer
        assert answer["error"]["code"] == "forbidden_role"
        assert answer["error"]["details"] == [{"roles": list(roles.roles_for(power))}]
    # AND nothing a refused caller sent moved the run or the money
    if role not in roles.roles_for(power):
        assert _log(api) == [("payout_run.start", "fin-a")]
        assert api.call("GET", BASE, as_user="boss", admin=True).body["status"] == "ready"
    if method == "POST":  # a write, allowed or refused: the money still adds up
        _audit_clean(api)


@pytest.mark.parametrize(
    ("method", "path", "power"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_every_finance_route_needs_a_token(
    api: Api, method: str, path: str, power: roles.Power
) -> None:
    answer = api.call(method, path, body={"period": "2026-10"} if method == "POST" else None)
    assert answer.status == 401


def _any_call(api: Api, method: str, path: str, role: str, body: Any) -> tuple[int, Any]:
    """Any route, JSON or a file: the status, and the JSON error when there is one."""
    import json

    from infra.local.api_gateway import request

    headers = {
        "authorization": f"Bearer {api.token('caller', roles=(role,))}",
        "content-type": "application/json",
    }
    raw = json.dumps(body).encode() if body is not None else None
    status, out_headers, out = request(api._gateway, method, path, headers, raw)
    if "json" in dict(out_headers).get("Content-Type", ""):
        return status, json.loads(out)
    return status, out[:40]


# Periods ----------------------------------------------------------------------------------


def _this_month() -> str:
    return seoul_day(utc_now()).strftime("%Y-%m")


def _next_month() -> str:
    day = seoul_day(utc_now()).replace(day=28)
    import datetime as dt

    return (day + dt.timedelta(days=5)).strftime("%Y-%m")


@pytest.mark.parametrize(
    ("period", "status", "code"),
    [
        ("this", 422, "period_open"),
        ("next", 422, "period_open"),
        ("2099-01", 422, "period_open"),
        ("2026-13", 422, "invalid_period"),
        ("2026-1", 422, "invalid_period"),
        ("2026-00", 422, "invalid_period"),
        ("26-11", 422, "invalid_period"),
        ("2026-11\n", 422, "invalid_period"),
        ("2026-11 ", 422, "invalid_period"),
        ("２０２６-１１", 422, "invalid_period"),
        ("x" * 40, 422, "validation_failed"),
    ],
)
def test_only_a_month_that_has_ended_is_run(api: Api, period: str, status: int, code: str) -> None:
    period = {"this": _this_month(), "next": _next_month()}.get(period, period)
    got = _start(api, period)
    assert (got.status, got.body["error"]["code"]) == (status, code), got.body
    assert (
        api.call("GET", "/v1/admin/payout-runs", as_user="fin", roles=("finance",)).body["runs"]
        == []
    )
    assert _log(api, f"run:payout-{period}"[:200]) == []


def test_the_schedule_runs_the_month_that_just_ended(api: Api) -> None:
    from app import monthly_payout_run
    from infra.local.lambda_runtime import LambdaContext
    from tests.functional.test_payouts_api import _scheduled

    # 1 December 03:00 in Seoul is 30 November 18:00 UTC: it runs November
    result = monthly_payout_run(_scheduled("2026-11-30T18:00:00Z"), LambdaContext("m"))
    assert result == {"run_id": RUN, "status": "running", "started": True}
    run = api.call("GET", BASE, as_user="fin", roles=("finance",)).body
    assert run["started_by"] == "system"
    log = api.call("GET", f"/v1/admin/actions?target=run:{RUN}", as_user="b", admin=True).body
    assert [(a["action"], a["actor"], a["roles"]) for a in log["actions"]] == [
        ("payout_run.start", "system", [])
    ]


# Listing runs -----------------------------------------------------------------------------


def test_runs_are_listed_newest_first_and_paged(api: Api) -> None:
    for period in ("2026-08", "2026-11", "2026-09", "2026-10"):
        assert _start(api, period).status == 201
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = _call(api, "GET", f"/v1/admin/payout-runs?{query}", "fin-b").body
        seen += [r["period"] for r in page["runs"]]
        assert all(r["status"] == "running" and r["started_by"] == "fin-a" for r in page["runs"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["2026-11", "2026-10", "2026-09", "2026-08"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["%%%", "!!", _b64("2026-13"), _b64("payout-2026-11"), _b64("2026-11#x"), "A" * 500,
     _b64("2026-11\x00"), "%E2%80%AE"],
)  # fmt: skip
def test_a_tampered_runs_cursor_is_a_400(api: Api, cursor: str) -> None:
    got = _call(api, "GET", f"/v1/admin/payout-runs?cursor={cursor}", "fin")
    assert got.status == 400 and got.body["error"]["code"] == "invalid_cursor", got.body


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x", "1e2", "５"])
def test_a_bad_limit_is_a_400(api: Api, limit: str) -> None:
    got = _call(api, "GET", f"/v1/admin/payout-runs?limit={limit}", "fin")
    assert got.status == 400


# The skipped ------------------------------------------------------------------------------


def test_the_skipped_are_listed_once_with_their_reason_under_redelivery(api: Api) -> None:
    for n in range(5):
        _register(api, f"k{n}", None)
        _credit(f"k{n}", 2500, f"seed-k{n}")
    _register(api, "paid-1")
    _credit("paid-1", 2500, "seed-paid-1")
    assert _start(api).status == 201
    _drain(queues.PAYOUT_CHUNKS, duplicate=True)  # every chunk delivered twice
    run = _call(api, "GET", BASE, "fin-b").body
    assert run["skipped"] == {"no_account": 5, "below_threshold": 0}
    seen: list[dict[str, str]] = []
    cursor = None
    while True:
        query = "reason=no_account&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = _call(api, "GET", f"{BASE}/skipped?{query}", "fin-b").body
        seen += page["skipped"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [{"citizen_id": f"k{n}", "reason": "no_account"} for n in range(5)]
    every = _call(api, "GET", f"{BASE}/skipped", "fin-b").body
    assert every["skipped"] == seen and every["next_cursor"] is None
    below = _call(api, "GET", f"{BASE}/skipped?reason=below_threshold", "fin-b").body
    assert below["skipped"] == []
    _audit_clean(api)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("reason=nope", 400, "invalid_query"),
        ("reason=no_account&reason=below_threshold", 400, "invalid_query"),
        ("reason=no_account%00", 400, "invalid_query"),
        (f"reason=below_threshold&cursor={_b64('no_account#k1')}", 400, "invalid_cursor"),
        (f"cursor={_b64('other#k1')}", 400, "invalid_cursor"),
        (f"cursor={_b64('no_account#' + 'k' * 300)}", 400, "invalid_cursor"),
        ("cursor=" + _b64("no_account#k1\x07"), 400, "invalid_cursor"),
        ("cursor=@@", 400, "invalid_cursor"),
        ("limit=501", 400, "invalid_query"),
    ],
)
def test_a_tampered_skipped_query_is_a_400(api: Api, query: str, status: int, code: str) -> None:
    _ready_run(api)
    got = _call(api, "GET", f"{BASE}/skipped?{query}", "fin")
    assert (got.status, got.body["error"]["code"]) == (status, code), got.body


def test_a_cursor_only_continues_its_own_run(api: Api) -> None:
    # GIVEN November skipped n1 and n2; October, run later, skipped n3 too
    _ready_run(api)
    _register(api, "n3", None)
    _credit("n3", 2500, "seed-n3")
    assert _start(api, "2026-10").status == 201
    _drain(queues.PAYOUT_CHUNKS)
    october = _call(api, "GET", "/v1/admin/payout-runs/payout-2026-10/skipped", "fin").body
    assert [s["citizen_id"] for s in october["skipped"]] == ["n1", "n2", "n3"]
    # WHEN a cursor past n2 is sent for November: October's n3 is not November's
    page = _call(api, "GET", f"{BASE}/skipped?cursor={_b64('no_account#n2')}", "fin").body
    assert page == {"run_id": RUN, "skipped": [], "next_cursor": None}
    assert _call(api, "GET", "/v1/admin/payout-runs/payout-1999-01/skipped", "fin").status == 404
    assert _call(api, "GET", "/v1/admin/payout-runs/%F0%9F%92%B0/skipped", "fin").status == 404


# Approval ---------------------------------------------------------------------------------


def test_a_run_is_approved_once_by_a_second_person_then_exported_and_settled(api: Api) -> None:
    _ready_run(api)
    # export and settlement before approval are refused, and move nothing
    early = _raw_get(api, f"{BASE}/export", "fin-a")
    assert early[0] == 409 and b"not_approved" in early[2]
    refused = _call(api, "POST", f"{BASE}/settle", "fin-a", body={"paid": ["p1"]})
    assert (refused.status, refused.body["error"]["code"]) == (409, "not_approved")
    assert _balance(api, "p1") == 0
    # the starter cannot approve, whatever role they hold
    for role in ("finance", "admin"):
        same = _approve(api, "fin-a", role)
        assert (same.status, same.body["error"]["code"]) == (403, "same_person")
    # another finance person can
    approved = _approve(api, "fin-b")
    assert approved.status == 200, approved.body
    assert (approved.body["status"], approved.body["approved_by"]) == ("approved", "fin-b")
    # approving twice answers the approved run, unchanged
    again = _approve(api, "fin-c", "admin")
    assert again.status == 200 and again.body["approved_by"] == "fin-b"
    # the export records its SHA-256 on the run and in the log
    status, _headers, body = _raw_get(api, f"{BASE}/export", "fin-a")
    assert status == 200 and body.startswith(b"\xef\xbb\xbf")
    digest = hashlib.sha256(body).hexdigest()
    run = _call(api, "GET", BASE, "fin-b").body
    assert run["exports"] == {"csv": {"sha256": digest}}
    actions = api.call(
        "GET", f"/v1/admin/actions?target=run:{RUN}", as_user="boss", admin=True
    ).body["actions"]
    exported = [a for a in actions if a["action"] == "payout_run.export"]
    assert exported[0]["detail"]["sha256"] == digest
    assert exported[0]["detail"]["format"] == "csv"
    # settle: p1 paid, p2 failed (credited back once)
    settled = _call(api, "POST", f"{BASE}/settle", "fin-a", body={"paid": ["p1"], "failed": ["p2"]})
    assert settled.status == 200 and settled.body["status"] == "settled", settled.body
    assert (_balance(api, "p1"), _balance(api, "p2")) == (0, 3500)
    # approving a settled run changes nothing
    late = _approve(api, "fin-d")
    assert late.status == 200 and late.body["status"] == "settled"
    assert _log(api) == [
        ("payout_run.start", "fin-a"),
        ("payout_run.approve", "fin-b"),
        ("payout_run.export", "fin-a"),
        ("payout_run.settle_item", "fin-a"),
        ("payout_run.settle_item", "fin-a"),
    ]
    _audit_clean(api)


def test_the_spreadsheet_export_records_its_digest_too(api: Api) -> None:
    _ready_run(api)
    assert _approve(api).status == 200
    from infra.local.api_gateway import request

    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    headers = {
        "authorization": f"Bearer {api.token('fin-a', roles=('finance',))}",
        "accept": xlsx,
    }
    status, _, body = request(api._gateway, "GET", f"{BASE}/export?format=xlsx", headers, None)
    assert status == 200
    csv_body = _raw_get(api, f"{BASE}/export", "fin-a")[2]
    run = _call(api, "GET", BASE, "fin-b").body
    assert run["exports"] == {
        "csv": {"sha256": hashlib.sha256(csv_body).hexdigest()},
        "xlsx": {"sha256": hashlib.sha256(body).hexdigest()},
    }


def test_a_running_run_cannot_be_approved(api: Api) -> None:
    _register(api, "r1")
    _credit("r1", 2500, "seed-r1")
    assert _start(api).status == 201  # its chunks not delivered yet
    got = _approve(api)
    assert (got.status, got.body["error"]["code"]) == (409, "run_not_ready")
    assert _call(api, "GET", BASE, "fin-b").body["status"] == "running"
    assert _log(api) == [("payout_run.start", "fin-a")]
    missing = _call(api, "POST", "/v1/admin/payout-runs/payout-1999-01/approve", "fin-b")
    assert missing.status == 404


def test_two_approvals_at_once_approve_once(api: Api) -> None:
    """The race, interleaved deterministically (in-process moto is not thread-safe for
    transactions; the e2e test races them for real): both read the run `ready`, the other's
    approval lands first, ours fails its condition and answers the approved run."""
    from chalicelib import wiring
    from chalicelib.domain.staff_actions import Actor

    _ready_run(api)
    service = wiring.payout_runs()
    store = service._store
    original = store.approve
    raced = False

    def racing(run_id: str, action: Any) -> bool:
        nonlocal raced
        if not raced:
            raced = True
            service.approve(run_id, Actor("fin-c", ("finance",)))
        return original(run_id, action)

    store.approve = racing  # type: ignore[method-assign]
    try:
        got = _approve(api, "fin-b")
    finally:
        store.approve = original  # type: ignore[method-assign]
    assert got.status == 200 and got.body["approved_by"] == "fin-c"
    assert _log(api) == [("payout_run.start", "fin-a"), ("payout_run.approve", "fin-c")]
    _audit_clean(api)


def test_an_entry_is_written_with_its_write_or_not_at_all(api: Api) -> None:
    """A start refused (the run exists) writes no entry; an approval refused writes none."""
    _ready_run(api)
    again = _start(api, who="fin-z")
    assert again.status == 409 and again.body["error"]["code"] == "run_exists"
    assert _approve(api, "fin-a").status == 403
    assert _log(api) == [("payout_run.start", "fin-a")]


# Reports ------------------------------------------------------------------------------------


def _recycled(api: Api) -> str:
    """Three citizens in two districts recycled this month, counted from the stream."""
    from chalicelib import wiring
    from chalicelib.domain.ledger import LedgerEntry

    now = utc_now()
    for who, district in (("c-1", "naeoe-dong"), ("c-2", "naeoe-dong"), ("c-3", "jinyeong-eup")):
        body = {"display_name": who, "district": district}
        assert api.call("PUT", "/v1/me", as_user=who, body=body).status == 200
    entries = []
    for n, (who, can, pet) in enumerate((("c-1", 3, 1), ("c-2", 2, 0), ("c-3", 0, 4),
                                         ("c-1", 1, 0))):  # fmt: skip
        items = [{"material": "can", "accepted": can}, {"material": "pet", "accepted": pet}]
        detail = {"items": items, "items_credited": can + pet}
        entries.append(LedgerEntry(who, f"{n:012d}", "recycling", 10, 10, now, f"r{n}", detail))
    assert wiring.operations().count_ledger_entries(entries) == 4
    return seoul_day(now).strftime("%Y-%m")


def test_the_recycling_totals_by_district_and_material(api: Api) -> None:
    month = _recycled(api)
    got = _call(api, "GET", f"/v1/admin/reports/recycling?month={month}", "fin")
    assert got.status == 200, got.body
    assert got.body == {
        "month": month,
        "closed": False,
        "citizens": 3,
        "items": {"can": 6, "pet": 5},
        "items_total": 11,
        "districts": [
            {"district": "jinyeong-eup", "name": "진영읍", "citizens": 1,
             "items": {"pet": 4}, "items_total": 4},
            {"district": "naeoe-dong", "name": "내외동", "citizens": 2,
             "items": {"can": 6, "pet": 1}, "items_total": 7},
        ],
    }  # fmt: skip
    empty = _call(api, "GET", "/v1/admin/reports/recycling?month=2026-01", "fin").body
    assert (empty["closed"], empty["citizens"], empty["districts"]) == (True, 0, [])


def test_the_recycling_csv_has_the_district(api: Api) -> None:
    month = _recycled(api)
    status, headers, body = _raw_get(api, f"/v1/admin/reports/recycling/{month}.csv", "boss")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        ["month", "citizen_id", "district", "can", "pet", "items_total"],
        [month, "c-1", "naeoe-dong", "4", "1", "5"],
        [month, "c-2", "naeoe-dong", "2", "0", "2"],
        [month, "c-3", "jinyeong-eup", "0", "4", "4"],
    ]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/admin/reports/recycling", 400, "invalid_query"),
        ("/v1/admin/reports/recycling?month=2026-13", 422, "invalid_month"),
        ("/v1/admin/reports/recycling?month=2026-1", 422, "invalid_month"),
        ("/v1/admin/reports/recycling?month=2099-01", 422, "month_in_future"),
        ("/v1/admin/reports/recycling?month=2026-11&month=2026-10", 400, "invalid_query"),
        ("/v1/admin/reports/recycling?month=2026-11%0A", 400, "invalid_query"),
        ("/v1/admin/reports/recycling/2026-11.xlsx", 404, "report_not_found"),
        ("/v1/admin/reports/recycling/2026-13.csv", 422, "invalid_month"),
        ("/v1/admin/reports/recycling/2099-01.csv", 422, "month_in_future"),
        ("/v1/admin/reports/recycling/..%2F2026-11.csv", 404, None),
    ],
)
def test_a_bad_report_month_is_refused(api: Api, path: str, status: int, code: str | None) -> None:
    got = _call(api, "GET", path, "fin")
    assert got.status == status, got.body
    if code:
        assert got.body["error"]["code"] == code


# Costs ----------------------------------------------------------------------------------------


def test_dynamodb_requests_per_finance_operation(api: Api) -> None:
    """The requests each operation makes (counted at botocore), for bench/RESULTS.md."""
    from tests.functional.test_table_access import touched_calls

    _ready_run(api)
    month = _recycled(api)
    operations = {
        "start (a new run)": lambda: _start(api, "2026-10"),
        "start (run_exists)": lambda: _start(api, "2026-10"),
        "list runs": lambda: _call(api, "GET", "/v1/admin/payout-runs", "fin-b"),
        "skipped": lambda: _call(api, "GET", f"{BASE}/skipped?reason=no_account", "fin-b"),
        "approve": lambda: _approve(api),
        "approve (repeat)": lambda: _approve(api, "fin-c"),
        "export csv (first)": lambda: _raw_get(api, f"{BASE}/export", "fin-a"),
        "export csv (kept)": lambda: _raw_get(api, f"{BASE}/export", "fin-a"),
        "settle 1 paid": lambda: _call(
            api, "POST", f"{BASE}/settle", "fin-a", body={"paid": ["p1"]}
        ),
        "report totals": lambda: _call(
            api, "GET", f"/v1/admin/reports/recycling?month={month}", "fin"
        ),
        "report csv": lambda: _raw_get(api, f"/v1/admin/reports/recycling/{month}.csv", "b"),
    }
    counted: dict[str, dict[str, int]] = {}
    for name, operation in operations.items():
        with touched_calls() as calls:
            operation()
        counted[name] = dict(sorted(calls.items()))
    print("\nDynamoDB requests per finance operation:")
    for name, calls in counted.items():
        print(f"  {name}: {calls} = {sum(calls.values())}")
    assert counted["list runs"] == {"Query": 1}
    assert counted["skipped"] == {"GetItem": 1, "Query": 1}
    assert counted["approve"] == {"GetItem": 2, "TransactWriteItems": 1}
    assert counted["approve (repeat)"] == {"GetItem": 1}
    assert counted["start (a new run)"] == {"TransactWriteItems": 1}
    assert counted["report totals"] == {"Query": 10}
    assert counted["report csv"] == {"Query": 10}
    assert counted["export csv (kept)"] == {"GetItem": 1, "TransactWriteItems": 1}


def test_nobody_settles_their_own_payout(api: Api) -> None:
    """A finance person who is also a citizen paid by the run (p2 here) could otherwise mark
    their own transfer failed and have it credited back on their word alone."""
    _ready_run(api)
    assert _approve(api).status == 200
    for body in ({"failed": ["p2"]}, {"paid": ["p2"]}, {"paid": ["p1"], "failed": ["p2"]}):
        for role in ("finance", "admin"):
            own = _call(api, "POST", f"{BASE}/settle", "p2", role, body=body)
            assert (own.status, own.body["error"]["code"]) == (403, "own_account"), own.body
    assert _balance(api, "p2") == 0
    assert [a for a, _ in _log(api)] == ["payout_run.start", "payout_run.approve"]
    # another person settles it
    done = _call(api, "POST", f"{BASE}/settle", "fin-a", body={"failed": ["p2"]})
    assert done.status == 200, done.body
    assert _balance(api, "p2") == 3500
    _audit_clean(api)
