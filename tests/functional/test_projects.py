"""The project registry on moto (DESIGN §4d): public reads, admin writes in the action log,
the summary and the checks each from one read of the registry, and the sample registry
loaded once however often it is loaded."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.conftest import Api
from tests.functional.test_table_access import dynamodb_requests

ADMIN = ("admin",)
BODY: dict[str, Any] = {
    "project_id": "smart-lights",
    "name": "스마트 가로등 원격관리 시스템 구축",
    "field": "facilities",
    "department": "도로과",
    "funding": "city",
    "budget_krw": {"2020": 800_000_000, "2021": 200_000_000},
    "starts_on": "2020-03-02",
    "ends_on": "2021-12-31",
    "districts": ["naeoe-dong", "bukbu-dong"],
    "status": "done",
    "services": ["street-lights"],
    "notes": "1차",
}


def _post(api: Api, body: dict[str, Any] | None = None, **changes: Any) -> Any:
    sent = {**(body or BODY), **changes}
    return api.call("POST", "/v1/admin/projects", as_user="admin-1", roles=ADMIN, body=sent)


def touch_project_routes(api: Api) -> None:
    """Every project route once (for the table-access test)."""
    _post(api)
    content = {k: v for k, v in BODY.items() if k != "project_id"}
    api.call("PUT", "/v1/admin/projects/smart-lights", as_user="a-1", roles=ADMIN, body=content)
    for path in ("", "/summary", "/overlaps", "/smart-lights"):
        api.call("GET", f"/v1/projects{path}")


def _load_sample() -> Any:
    from infra.project_registry import load

    return load()


def test_an_admin_registers_and_replaces_a_project_and_anyone_reads_it(api: Api) -> None:
    made = _post(api)
    assert made.status == 201, made.body
    assert made.body["field_name"] == "시설물관리"
    assert made.body["budget_krw"] == {"2020": 800_000_000, "2021": 200_000_000}
    again = _post(api, name="다른 이름")
    assert again.status == 409 and again.body["error"]["code"] == "project_exists"

    read = api.call("GET", "/v1/projects/smart-lights")  # public: no token
    assert read.status == 200 and read.body == made.body

    replaced = {k: v for k, v in BODY.items() if k != "project_id"}
    replaced.update(status="in_progress", districts=["bukbu-dong"], notes="2차 포함")
    put = api.call(
        "PUT", "/v1/admin/projects/smart-lights", as_user="admin-2", roles=ADMIN, body=replaced
    )
    assert put.status == 200, put.body
    assert put.body["status"] == "in_progress" and put.body["districts"] == ["bukbu-dong"]
    assert put.body["created_at"] == made.body["created_at"]
    assert api.call("GET", "/v1/projects/smart-lights").body == put.body

    # GIVEN both writes WHEN an admin reads the action log THEN each is there, the replace
    # with what it changed, before and after
    log = api.call(
        "GET", "/v1/admin/actions?target=project:smart-lights", as_user="admin-1", roles=ADMIN
    )
    assert [a["action"] for a in log.body["actions"]] == ["project.replace", "project.create"]
    replace, create = log.body["actions"]
    assert (replace["actor"], create["actor"]) == ("admin-2", "admin-1")
    assert create["detail"]["after"]["name"] == BODY["name"]
    assert replace["detail"] == {
        "before": {"districts": ["naeoe-dong", "bukbu-dong"], "status": "done", "notes": "1차"},
        "after": {"districts": ["bukbu-dong"], "status": "in_progress", "notes": "2차 포함"},
    }

    missing = api.call(
        "PUT", "/v1/admin/projects/no-such-project", as_user="admin-1", roles=ADMIN, body=replaced
    )
    assert missing.status == 404 and missing.body["error"]["code"] == "project_not_found"
    assert api.call("GET", "/v1/projects/no-such").status == 404
    assert api.call("GET", "/v1/projects/Not_An_Id").status == 404


def test_only_an_admin_writes(api: Api) -> None:
    for roles in (("operator",), ("finance",), ("support",), ()):
        refused = api.call("POST", "/v1/admin/projects", as_user="staff-1", roles=roles, body=BODY)
        assert refused.status == 403, roles
        assert refused.body["error"]["code"] == "forbidden_role"
        assert refused.body["error"]["details"] == [{"roles": ["admin"]}]
    assert api.call("POST", "/v1/admin/projects", body=BODY).status == 401
    assert api.call("GET", "/v1/projects").body == {"projects": []}


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"budget_krw": {"2020": 1.5}}, 400, "bad_request"),
        ({"budget_krw": {"2020": 800_000_000.0}}, 400, "bad_request"),
        ({"budget_krw": {"2020": "800000000"}}, 400, "bad_request"),
        ({"budget_krw": {"2020": True}}, 400, "bad_request"),
        ({"budget_krw": {"2020": -1}}, 422, "invalid_project"),
        ({"budget_krw": {"2020": 10**15}}, 422, "invalid_project"),
        ({"budget_krw": {"1999": 1}}, 422, "invalid_project"),
        ({"ends_on": "2019-12-31"}, 422, "invalid_project"),
        ({"field": "nowhere"}, 422, "invalid_project"),
        ({"districts": ["naeoe-dong", "naeoe-dong"]}, 422, "invalid_project"),
        ({"districts": ["seoul"]}, 422, "invalid_project"),
        ({"status": "cancelled"}, 422, "validation_failed"),
        ({"funding": "provincial"}, 422, "validation_failed"),
        ({"name": "<img src=x onerror=alert(1)>"}, 422, "invalid_project"),
        ({"notes": "<script>alert(1)</script>"}, 422, "invalid_project"),  # public, like the name
        ({"name": "가" * 5000}, 422, "invalid_project"),
        ({"name": "\u202e스마트"}, 422, "invalid_project"),
        ({"services": [f"s{i}" for i in range(11)]}, 422, "invalid_project"),
        ({"project_id": "../etc"}, 422, "invalid_project"),
        ({"owner": "me"}, 400, "bad_request"),
    ],
)
def test_bad_projects_are_refused_with_their_reason(
    api: Api, changes: dict[str, Any], status: int, code: str
) -> None:
    refused = _post(api, **changes)
    assert refused.status == status, refused.body
    assert refused.body["error"]["code"] == code
    assert api.call("GET", "/v1/projects").body == {"projects": []}


def test_the_sample_loads_once_and_the_summary_and_checks_are_one_read_each(api: Api) -> None:
    first = _load_sample()
    assert (len(first.created), len(first.kept)) == (45, 0)
    again = _load_sample()
    assert (len(again.created), len(again.kept)) == (0, 45)

    with dynamodb_requests() as seen:
        summary = api.call("GET", "/v1/projects/summary")
    assert [op for op, _ in seen] == ["Query"]
    assert summary.body["projects"] == 45 and summary.body["budget_krw"] == 61_800_000_000
    assert [(f["field_name"], f["projects"]) for f in summary.body["by_field"]][:3] == [
        ("환경·에너지·수자원", 10),
        ("보건·의료·복지", 9),
        ("행정", 6),
    ]
    assert {y["year"]: y["budget_krw"] for y in summary.body["by_year"]}["2020"] == 43 * 10**9

    with dynamodb_requests() as seen:
        checks = api.call("GET", "/v1/projects/overlaps")
    registry_reads = [op for op, p in seen if p.get("TableName", "").endswith("-projects")]
    assert registry_reads == ["Query"]
    assert len(seen) <= 3  # and the provisional figures: one BatchGetItem, one Query
    (pair,) = checks.body["pairs"]
    assert pair["project_ids"] == ["smart-streetlights", "streetlight-remote-control"]
    assert [r["code"] for r in pair["reasons"]] == [
        "same_field",
        "districts_overlap",
        "periods_overlap",
        "similar_names",
    ]
    assert pair["reasons"][1]["districts"] == ["bukbu-dong"]
    unmeasured = {u["project_id"]: u for u in checks.body["unmeasured"]}
    assert unmeasured["bus-information-upgrade"]["reasons"][0]["code"] == "service_not_live"
    assert unmeasured["yeonji-smart-shelters"]["reasons"][0]["code"] == "no_figures"

    listed = api.call("GET", "/v1/projects?field=housing&year=2022")
    assert [p["project_id"] for p in listed.body["projects"]] == [
        "mugye-regeneration",
        "old-town-smart-themes",
        "sambang-regeneration",
        "yulha2-smart-district",
    ]
    in_progress = api.call("GET", "/v1/projects?status=in_progress")
    assert {p["status"] for p in in_progress.body["projects"]} == {"in_progress"}
    for bad in ("field=환경", "year=20", "status=open", "year=2020&year=2021"):
        assert api.call("GET", f"/v1/projects?{bad}").status == 400, bad


def test_a_replace_from_a_stale_read_is_refused_by_the_version(api: Api) -> None:
    from dataclasses import replace

    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_projects import DynamoDbProjects
    from chalicelib.domain import projects
    from chalicelib.domain.staff_actions import SYSTEM

    assert _post(api).status == 201
    store = DynamoDbProjects(wiring.config.settings().city)
    read = store.get("smart-lights", consistent=True)
    assert read is not None and read.version == 1
    first = replace(read, status="in_progress")
    store.replace(first, projects.replace_action(read, first, SYSTEM))
    stale = replace(read, status="planned")
    with pytest.raises(projects.ProjectChanged):
        store.replace(stale, projects.replace_action(read, stale, SYSTEM))
    now = store.get("smart-lights", consistent=True)
    assert now is not None and (now.status, now.version) == ("in_progress", 2)
