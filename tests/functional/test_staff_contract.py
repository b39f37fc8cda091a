"""The staff routes' contract (issue 23, DESIGN §4, §4b): every operation of the staff
modules declares what it answers on success (a closed model, or the file's media type), a
one-line summary and precise query parameters; an answer off its model fails the contract
check every functional test runs (tests/contract.py)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from tests.contract import check_answer, document, resolved

STAFF_MODULES = {
    "admin", "alerts", "audit", "operator_actions", "payout_runs", "purifier", "reports",
    "staff_actions", "support",
}  # fmt: skip
FILES = {
    ("get", "/v1/admin/payout-runs/{run_id}/export"): {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    },
    ("get", "/v1/admin/reports/recycling/{file}"): {"text/csv"},
}


def _staff_operations() -> list[tuple[str, str]]:
    from app import app

    return sorted(
        (method.lower(), path)
        for path, methods in app.routes.items()
        for method, route in methods.items()
        if not getattr(route.view_function, "refusal", False)
        and inspect.unwrap(route.view_function).__module__.rsplit(".", 1)[-1] in STAFF_MODULES
    )


def _schema(name: str) -> dict[str, Any]:
    return dict(document()["components"]["schemas"][name])


def _closed(schema: dict[str, Any], seen: set[str]) -> list[str]:
    """Objects of the schema (and of those it refers to) that allow unnamed fields."""
    open_ones = []
    named = schema.get("type") == "object" and "properties" in schema
    if named and schema.get("additionalProperties") is not False:
        open_ones.append(str(schema.get("title")))
    for value in schema.values():
        children = value if isinstance(value, list) else [value]
        for child in children:
            if not isinstance(child, dict):
                continue
            ref = child.get("$ref")
            if ref is not None:
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    open_ones += _closed(_schema(name), seen)
            else:
                open_ones += _closed(child, seen)
    return open_ones


def test_the_staff_modules_serve_these_operations() -> None:
    operations = _staff_operations()
    assert len(operations) == 35
    assert ("get", "/v1/admin/alerts") in operations


@pytest.mark.parametrize(("method", "path"), _staff_operations())
def test_every_staff_operation_declares_its_success_answer_and_a_summary(
    method: str, path: str
) -> None:
    operation = document()["paths"][path][method]
    summary = operation.get("summary", "")
    assert summary and "\n" not in summary and len(summary) <= 90, summary
    successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
    assert successes
    for response in successes.values():
        content = response["content"]
        if (method, path) in FILES:
            assert set(content) == FILES[(method, path)]
            continue
        assert set(content) == {"application/json"}
        ref = content["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[-1]
        assert _closed(_schema(name), {name}) == [], f"{name} has open objects"


def _query(method: str, path: str) -> dict[str, dict[str, Any]]:
    operation = document()["paths"][path][method]
    return {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}


def test_the_query_parameters_are_typed_precisely() -> None:
    from chalicelib.domain.districts import districts
    from chalicelib.domain.operations import QUARANTINE_SOURCES

    codes = list(districts())
    alerts = _query("get", "/v1/admin/alerts")
    # a value set the document names is that component (one enum class in a client)
    assert alerts["kind"] == {"$ref": "#/components/schemas/AlertKind"}
    assert resolved(alerts["kind"])["enum"] == ["air", "bin_full", "fault", "offline"]
    assert alerts["severity"] == {"$ref": "#/components/schemas/AlertSeverity"}
    assert resolved(alerts["severity"])["enum"] == ["critical", "major", "minor"]
    assert alerts["status"] == {"type": "string", "enum": ["active", "cleared", "all"],
                                "default": "active"}  # fmt: skip
    assert alerts["acknowledged"]["enum"] == ["true", "false"]
    assert alerts["district"]["$ref"] == "#/components/schemas/District"
    assert resolved(alerts["district"])["enum"] == codes and len(codes) == 19
    assert alerts["updated_since"] == {"type": "string", "format": "date-time"}
    assert _query("get", "/v1/admin/actions")["since"]["format"] == "date-time"
    assert resolved(_query("get", "/v1/admin/quarantine")["source"]) == {
        "type": "string", "enum": list(QUARANTINE_SOURCES), "default": "deposits"
    }  # fmt: skip
    assert _query("get", "/v1/admin/reports/recycling")["month"]["pattern"] == (
        "^[0-9]{4}-[0-9]{2}$"
    )
    stats_date = _query("get", "/v1/admin/stats")["date"]
    assert (stats_date["type"], stats_date["format"]) == ("string", "date")
    assert resolved(_query("get", "/v1/admin/corrections")["status"])["enum"] == [
        "pending", "approved", "rejected"
    ]  # fmt: skip
    assert _query("get", "/v1/admin/payout-runs/{run_id}/skipped")["reason"]["enum"] == [
        "all", "no_account", "below_threshold"
    ]  # fmt: skip
    assert resolved(_query("get", "/v1/admin/payout-runs/{run_id}/export")["format"])["enum"] == [
        "csv", "xlsx"
    ]  # fmt: skip
    period = _schema("PayoutRunRequest")["properties"]["period"]
    assert period["pattern"] == "^[0-9]{4}-[0-9]{2}$"


ALERT = {
    "alert_id": "shelter-1.air.20261201T000000Z000000", "device_id": "shelter-1",
    "device_type": "shelter", "district": "naeoe-dong", "kind": "air", "severity": "major",
    "status": "active", "acknowledged": False, "acknowledged_by": None,
    "acknowledged_at": None, "assignee": None, "raised_at": "2026-12-01T00:00:00Z",
    "cleared_at": None, "updated_at": "2026-12-01T00:00:00Z", "detail": "pm25 80",
    "timeline": [{"at": "2026-12-01T00:00:00Z", "event": "raised", "by": None, "note": None}],
}  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "smoke"},  # a kind the city does not raise
        {"status": "open"},
        {"district": "gangnam-gu"},  # not one of Gimhae's districts
        {"acknowledged": "no"},
        {"assignee": 7},
        {"raised_at": None},  # never null
        {"colour": "red"},  # a field the contract does not name
        {
            "timeline": [
                {"at": "2026-12-01T00:00:00Z", "event": "reopened", "by": None, "note": None}
            ]
        },
    ],
)
def test_an_answer_off_its_model_fails_the_contract_check(change: dict[str, Any]) -> None:
    path = "/v1/admin/alerts/shelter-1.air.20261201T000000Z000000"
    check_answer("GET", path, 200, "application/json", ALERT)  # the contract's own shape
    with pytest.raises(AssertionError, match="off its contract"):
        check_answer("GET", path, 200, "application/json", {**ALERT, **change})


def test_a_missing_field_fails_the_contract_check() -> None:
    path = "/v1/admin/alerts/shelter-1.air.20261201T000000Z000000"
    without = {k: v for k, v in ALERT.items() if k != "assignee"}
    with pytest.raises(AssertionError, match="'assignee' is a required property"):
        check_answer("GET", path, 200, "application/json", without)


def test_a_file_in_a_media_type_not_declared_fails_the_contract_check() -> None:
    path = "/v1/admin/reports/recycling/2026-11.csv"
    check_answer("GET", path, 200, "text/csv; charset=utf-8", None)
    with pytest.raises(AssertionError, match="the document says"):
        check_answer("GET", path, 200, "application/json", {"rows": []})
