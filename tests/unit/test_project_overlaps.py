"""The registry's overlap and omission checks (DESIGN §4d): names compared as officials
write them, and hand-made pairs that must and must not be flagged."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import project_overlaps as o
from chalicelib.domain.districts import districts
from chalicelib.domain.projects import Project

AT = datetime(2026, 12, 1, tzinfo=UTC)
EVERY = list(districts())


def _project(project_id: str, name: str, **changes: Any) -> Project:
    base = Project(
        project_id=project_id,
        name=name,
        field="facilities",
        department="도로과",
        funding="city",
        budget_krw={"2020": 100_000_000},
        starts_on=date(2020, 3, 1),
        ends_on=date(2020, 12, 31),
        districts=("naeoe-dong", "bukbu-dong"),
        status="done",
        services=(),
        notes="",
        sample=True,
        created_at=AT,
        updated_at=AT,
    )
    return dataclasses.replace(base, **changes)


LIGHTS = _project("lights-a", "스마트 가로등 원격관리 시스템 구축")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("스마트 가로등 원격관리 시스템 구축", "스마트가로등 원격 관리시스템 구축 사업"),
        ("스마트가로등 원격관리시스템", "[김해형] 스마트 가로등·원격관리 (시스템) 조성사업"),
        ("ＡＩ 재활용품 회수로봇", "ai 재활용품-회수로봇 운영"),  # full-width letters, case
    ],
)
def test_the_same_name_written_otherwise_is_one_name(a: str, b: str) -> None:
    assert o.normalise(a) == o.normalise(b)
    assert o.similarity(a, b) == 1.0


def test_normalising_never_leaves_nothing() -> None:
    assert o.normalise("사업") == "사업"
    assert o.normalise("김해") == "김해"
    assert o.similarity("", "") == 0.0


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("미세먼지 알리미 전광판 설치", "미세먼지 알리미 전광판 설치사업(2차)", 0.85, 0.95),
        ("도시재생 뉴딜사업 (삼방동)", "도시재생 뉴딜사업 (무계동)", 0.6, 0.65),
        ("스마트 버스정보시스템 구축", "스마트 교통정보시스템 구축", 0.6, 0.69),
        ("스마트 가로등", "스마트 횡단보도", 0.3, 0.4),
        ("연지공원 스마트쉼터", "대청천 스마트쉼터", 0.5, 0.6),
    ],
)
def test_similarity_scores(a: str, b: str, low: float, high: float) -> None:
    assert low <= o.similarity(a, b) <= high
    assert o.similarity(a, b) == o.similarity(b, a)


MUST_FLAG = {
    "respaced and suffixed": _project("lights-b", "스마트가로등 원격 관리시스템 구축 사업"),
    "punctuated and bracketed": _project("lights-b", "「스마트 가로등」 원격관리·시스템"),
    "city-wide beside a district": _project(
        "lights-b", "스마트 가로등 원격관리 시스템", districts=()
    ),
    "one shared day": _project(
        "lights-b",
        "스마트 가로등 원격관리 시스템 (2차)",
        starts_on=date(2020, 12, 31),
        ends_on=date(2021, 6, 30),
        budget_krw={"2021": 5},
    ),
}


@pytest.mark.parametrize("case", sorted(MUST_FLAG))
def test_pairs_that_must_be_flagged(case: str) -> None:
    pair = o.judge_pair(LIGHTS, MUST_FLAG[case], EVERY)
    assert pair is not None, case
    assert [r.code for r in pair.reasons] == [
        "same_field",
        "districts_overlap",
        "periods_overlap",
        "similar_names",
    ]
    assert pair.similarity >= o.THRESHOLD
    by_code = {r.code: r for r in pair.reasons}
    assert by_code["similar_names"].data["similarity"] == pair.similarity
    assert set(by_code["districts_overlap"].data["districts"]) <= {"naeoe-dong", "bukbu-dong"}


def test_a_flagged_pair_says_where_and_when_they_meet() -> None:
    other = _project(
        "lights-b",
        "스마트가로등 원격관리 시스템 구축사업",
        districts=("bukbu-dong", "buram-dong"),
        starts_on=date(2020, 6, 1),
        ends_on=date(2021, 3, 31),
        budget_krw={"2021": 1},
    )
    pair = o.judge_pair(other, LIGHTS, EVERY)
    assert pair is not None
    assert (pair.first.project_id, pair.second.project_id) == ("lights-a", "lights-b")
    data = {r.code: r.data for r in pair.reasons}
    assert data["districts_overlap"] == {"districts": ["bukbu-dong"]}
    assert data["periods_overlap"] == {"from": "2020-06-01", "to": "2020-12-31"}


def test_two_city_wide_projects_share_every_district() -> None:
    a = dataclasses.replace(LIGHTS, districts=())
    b = _project("lights-b", "스마트 가로등 원격관리", districts=())
    pair = o.judge_pair(a, b, EVERY)
    assert pair is not None
    assert pair.reasons[1].data["districts"] == EVERY


MUST_NOT_FLAG = {
    "different fields": _project("lights-b", LIGHTS.name, field="safety"),
    "disjoint districts": _project("lights-b", LIGHTS.name, districts=("jinyeong-eup",)),
    "disjoint periods": _project(
        "lights-b",
        LIGHTS.name,
        starts_on=date(2021, 1, 1),
        ends_on=date(2021, 12, 31),
        budget_krw={"2021": 1},
    ),
    "similar names, another scope": _project("lights-b", "스마트 횡단보도 원격관리"),
}


@pytest.mark.parametrize("case", sorted(MUST_NOT_FLAG))
def test_pairs_that_must_not_be_flagged(case: str) -> None:
    assert o.judge_pair(LIGHTS, MUST_NOT_FLAG[case], EVERY) is None, case


def test_one_template_for_two_places_is_not_flagged() -> None:
    sambang = _project("regen-a", "도시재생 뉴딜사업 (삼방동)", field="housing")
    mugye = _project("regen-b", "도시재생 뉴딜사업 (무계동)", field="housing")
    assert o.judge_pair(sambang, mugye, EVERY) is None


def test_pairs_come_most_similar_first_and_only_within_a_field() -> None:
    projects = [
        LIGHTS,
        _project("lights-b", "스마트가로등 원격 관리시스템 구축 사업"),
        _project("lights-c", "스마트 가로등 원격관리 (2차)"),
        _project("safety-a", LIGHTS.name, field="safety"),
    ]
    pairs = o.overlapping_pairs(projects, EVERY)
    assert next((p.first.project_id, p.second.project_id) for p in pairs) == (
        "lights-a",
        "lights-b",
    )
    assert all(p.first.field == p.second.field == "facilities" for p in pairs)
    assert [p.similarity for p in pairs] == sorted((p.similarity for p in pairs), reverse=True)


def test_unmeasured_projects_and_why() -> None:
    projects = [
        _project("robots", "AI 재활용품 회수로봇", services=("recycling",), status="in_progress"),
        _project("walk", "걷기 커뮤니티", services=("walking",), status="in_progress"),
        _project("bus", "버스정보시스템", services=("bus-info", "walking"), status="done"),
        _project("later", "스마트 주차", services=("parking",), status="planned"),
        _project("none", "스마트 경로당"),
    ]
    found = o.unmeasured(projects, frozenset({"walking"}))
    assert [(u.project.project_id, u.services) for u in found] == [
        ("bus", ("bus-info",)),
        ("robots", ("recycling",)),
    ]
    assert [r.code for r in found[0].reasons] == ["service_not_live"]
    assert [r.code for r in found[1].reasons] == ["no_figures"]
    # a service this backend does not run is never measured, whatever the figures say
    assert o.unmeasured(projects[2:3], frozenset({"bus-info", "walking"}))[0].services == (
        "bus-info",
    )


_NOISE = st.sampled_from([" ", "  ", "·", "-", "(", ")", "[", "]", "「", "」", ",", ".", "\u3000"])


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(
        ["스마트 가로등 원격관리 시스템", "AI 재활용품 회수로봇", "율하2지구 스마트시티"]
    ),
    noise=st.lists(st.tuples(st.integers(0, 40), _NOISE), max_size=8),
)
def test_spacing_and_punctuation_anywhere_never_change_a_name(
    name: str, noise: list[tuple[int, str]]
) -> None:
    written = name
    for at, mark in noise:
        written = written[:at] + mark + written[at:]
    assert o.normalise(written) == o.normalise(name)
    assert o.similarity(written, name) == 1.0
