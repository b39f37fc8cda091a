"""The project registry's rules (DESIGN §4d): a project judged whole, the summary, and the
sample registry the local stack loads, with the seed's counts and totals."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import project_overlaps, projects
from chalicelib.domain.districts import districts
from chalicelib.domain.projects import ProjectDraft, draft_to_project
from chalicelib.errors import Unprocessable
from infra.project_registry import SAMPLE, read_drafts

AT = datetime(2026, 12, 1, tzinfo=UTC)
DRAFT = ProjectDraft(
    name="스마트 가로등 원격관리",
    field="facilities",
    department="도로과",
    funding="city",
    budget_krw={"2020": 800_000_000, "2021": 200_000_000},
    starts_on="2020-03-02",
    ends_on="2021-12-31",
    districts=("naeoe-dong",),
    status="done",
    services=("recycling", "street-lights"),
)


def _judge(**changes: Any) -> projects.Project:
    draft = dataclasses.replace(DRAFT, **changes)
    return draft_to_project(draft, "lights", districts(), created_at=AT, updated_at=AT)


def _refusal(**changes: Any) -> list[str]:
    with pytest.raises(Unprocessable) as refused:
        _judge(**changes)
    assert refused.value.code == "invalid_project"
    return [d["reason"] for d in refused.value.details]


def test_a_good_project_is_kept_as_written() -> None:
    p = _judge(name="  스마트   가로등  원격관리 ", notes=" 2차 사업 포함 ")
    assert p.name == "스마트 가로등 원격관리"
    assert p.notes == "2차 사업 포함"
    assert p.total_krw == 1_000_000_000
    assert p.active_in(2021) and not p.active_in(2022)
    assert projects.field_name(p.field) == "시설물관리"


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"budget_krw": {"2020": -1}}, ["negative_budget"]),
        ({"budget_krw": {"2020": 10**12 + 1}}, ["budget_too_large"]),
        ({"budget_krw": {"20": 1, "２０２０": 1}}, ["invalid_year", "invalid_year"]),
        ({"budget_krw": {"2019": 1, "2022": 1}}, ["year_outside_period"] * 2),
        ({"ends_on": "2020-03-01"}, ["ends_before_start"]),
        ({"starts_on": "2020-02-30"}, ["invalid_date"]),
        ({"starts_on": "20200302"}, ["invalid_date"]),
        ({"ends_on": "2101-01-01"}, ["invalid_date"]),
        ({"field": "환경·에너지·수자원"}, ["unknown_field"]),
        ({"funding": "provincial"}, ["unknown_funding"]),
        ({"status": "cancelled"}, ["unknown_status"]),
        ({"districts": ("naeoe-dong", "naeoe-dong")}, ["duplicate_district"]),
        ({"districts": ("gangnam-gu",)}, ["unknown_district"]),
        ({"services": tuple(f"s{i}" for i in range(11))}, ["too_many_services"]),
        ({"services": ("walking", "walking")}, ["duplicate_service"]),
        ({"services": ("Walking!",)}, ["invalid_service"]),
        ({"name": "   "}, ["empty"]),
        ({"name": "가" * 101}, ["too_long"]),
        ({"name": "<script>alert(1)</script>"}, ["markup"]),
        ({"name": "스마트＜b＞가로등"}, ["markup"]),  # full-width: NFKC makes it markup
        ({"name": "스마트\u0000가로등"}, ["control_character"]),
        ({"name": "스마트\u200b가로등"}, ["invisible_character"]),
        ({"department": "도로과\n총무과"}, ["control_character"]),
        ({"notes": "줄\n바꿈"}, ["control_character"]),
    ],
)
def test_each_broken_rule_is_named(changes: dict[str, Any], reasons: list[str]) -> None:
    assert _refusal(**changes) == reasons


def test_every_broken_rule_is_named_at_once() -> None:
    reasons = _refusal(name="", funding="x", ends_on="2019-01-01", districts=("nowhere",))
    assert set(reasons) == {"empty", "unknown_funding", "ends_before_start", "unknown_district"}


def test_an_id_is_a_readable_slug() -> None:
    assert projects.valid_id("yeonji-smart-shelters") == "yeonji-smart-shelters"
    for bad in ("ab", "Yeonji", "-lead", "trail-", "한글", "a" * 65, "a b", 7):
        with pytest.raises(Unprocessable):
            projects.valid_id(bad)


def test_the_summary_counts_every_field_funding_and_status() -> None:
    a = _judge()
    b = dataclasses.replace(
        a, project_id="b", field="transport", funding="national", budget_krw={"2021": 5}
    )
    s = projects.summarize([a, b])
    assert (s.projects, s.budget_krw) == (2, 1_000_000_005)
    assert [t.key for t in s.by_field] == list(projects.FIELD_CODES)
    assert {t.key: (t.projects, t.budget_krw) for t in s.by_field if t.projects} == {
        "facilities": (1, 1_000_000_000),
        "transport": (1, 5),
    }
    assert [(t.key, t.projects, t.budget_krw) for t in s.by_year] == [
        ("2020", 1, 800_000_000),
        ("2021", 2, 200_000_005),
    ]
    assert [(t.key, t.projects) for t in s.by_funding] == [("national", 1), ("city", 1)]
    assert [(t.key, t.projects) for t in s.by_status] == [
        ("planned", 0),
        ("in_progress", 0),
        ("done", 2),
    ]


# -- The sample registry (DESIGN §4d) ----------------------------------------------------

SEED_FIELDS = {
    "환경·에너지·수자원": 10,
    "보건·의료·복지": 9,
    "행정": 6,
    "방범·방재": 5,
    "주거": 4,
    "시설물관리": 3,
    "교통": 2,
    "문화·관광·스포츠": 2,
    "근로·고용": 2,
    "교육": 1,
    "물류": 1,
}


def _sample() -> list[projects.Project]:
    return [
        draft_to_project(d, pid, districts(), created_at=AT, updated_at=AT)
        for pid, d in read_drafts(SAMPLE)
    ]


def test_the_sample_has_the_seeds_counts_and_totals() -> None:
    sample = _sample()
    s = projects.summarize(sample)
    assert s.projects == 45
    assert {projects.field_name(t.key): t.projects for t in s.by_field} == SEED_FIELDS
    assert {t.key: t.projects for t in s.by_funding} == {"national": 23, "city": 22}
    assert s.budget_krw == 61_800_000_000
    assert {t.key: t.budget_krw for t in s.by_year}["2020"] == 43_000_000_000


def test_the_sample_names_the_citys_projects_and_marks_the_rest() -> None:
    sample = {p.project_id: p for p in _sample()}
    named = {pid: p for pid, p in sample.items() if not p.sample}
    wanted = {
        "연지공원 스마트쉼터": ("shelters",),
        "재활용품 회수로봇": ("recycling",),
        "걷기 커뮤니티": ("walking",),
        "율하2지구": (),
        "회현·내외·북부동": (),
        "주촌면 스마트시티 챌린지": (),
        "삼방동 도시재생": (),
        "무계동 생활권 도시재생": (),
    }
    for words, services in wanted.items():
        found = [p for p in named.values() if words in p.name]
        assert len(found) == 1, words
        assert found[0].services == services
    assert len(named) == len(wanted)


def test_the_sample_flags_its_one_duplicate_and_a_service_kept_elsewhere() -> None:
    sample = _sample()
    pairs = project_overlaps.overlapping_pairs(sample, districts())
    assert [(p.first.project_id, p.second.project_id) for p in pairs] == [
        ("smart-streetlights", "streetlight-remote-control")
    ]
    assert pairs[0].first.name != pairs[0].second.name
    live = frozenset(projects.LIVE_SERVICES)
    unmeasured = project_overlaps.unmeasured(sample, live)
    assert {u.project.project_id for u in unmeasured} >= {"bus-information-upgrade"}
    assert all(r.code == "service_not_live" for u in unmeasured for r in u.reasons)
