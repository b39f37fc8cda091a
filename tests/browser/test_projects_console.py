"""The project registry and the live KPIs in the console, on the shared local stack's sample
registry (DESIGN §4d), in Chromium: the page shows what the public API answers — the project
count, the table by field, every project in the list and on the map, the deliberately
duplicated sample pair flagged with its reasons in words, a KPI card per figure — then
filters by field and switches the KPIs to the week without reloading the page, and reads in
English. axe finds nothing serious at either size; photographed as projects-*.png."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, Request, expect

from tests.browser.kit import assert_accessible, login, shoot
from tests.e2e.conftest import Stack

REASON_WORDS = {
    "same_field": "같은 분야",
    "districts_overlap": "겹치는 지역",
    "periods_overlap": "기간이 겹침",
    "similar_names": "이름이 비슷함",
}


def _read(stack: Stack, path: str) -> Any:
    status, body = stack.http("GET", path)
    assert status == 200, (path, body)
    return body


def _field(row: dict[str, Any]) -> str:
    return str(row.get("field_name") or row["field"])


def computed_kpis(stack: Stack) -> list[dict[str, Any]]:
    """Today's KPIs, once the schedule has computed them (as it does every 15 minutes)."""
    from infra.local.scheduler import request_fire

    fired = request_fire(stack.state_dir, "kpi_refresh", timeout=30)
    assert fired.get("ok"), fired
    kpis: list[dict[str, Any]] = _read(stack, "/v1/kpis?period=day")["kpis"]
    assert kpis, "the schedule computes every KPI, zero or not"
    return kpis


def test_the_registry_page_shows_the_registry_its_overlaps_and_kpis(
    stack: Stack, console: Page
) -> None:
    summary = _read(stack, "/v1/projects/summary")
    projects = _read(stack, "/v1/projects")["projects"]
    overlaps = _read(stack, "/v1/projects/overlaps")
    day = computed_kpis(stack)
    assert summary["projects"] >= 45 and len(projects) == summary["projects"]
    assert overlaps["pairs"], "the sample registry holds a deliberate duplicate"
    asked: list[str] = []
    console.on("request", lambda r: _note(r, asked))

    # GIVEN a support person (no city page, no devices): the registry is public, every
    # staff role has it in the menu
    login(console, "support-registry", ["support"])
    console.get_by_role("navigation").get_by_role("link", name="스마트도시 사업").click()
    page = console.locator("main")
    expect(page.get_by_role("heading", name="스마트도시 사업", level=1)).to_be_visible()

    # THEN the summary and the table by field say what the API says
    expect(console.locator(".figure", has_text="사업 수")).to_contain_text(str(summary["projects"]))
    by_field = console.get_by_role("table", name="분야별 사업")
    rows = by_field.locator("tbody tr")
    expect(rows).to_have_count(len(summary["by_field"]))
    for i, row in enumerate(summary["by_field"]):
        expect(rows.nth(i)).to_contain_text(_field(row))
        expect(rows.nth(i).locator("td").nth(1)).to_have_text(str(row["projects"]))
    # AND every project is in the list, and on the map unless it is city-wide
    listed = console.get_by_role("table", name=re.compile(r"^사업 \d+건$"))
    expect(listed.locator("tbody tr")).to_have_count(len(projects))
    expect(console.locator(".projects-map .leaflet-tooltip")).to_have_count(19)
    # AND the duplicate pair is flagged, each of its reasons in words
    pair = overlaps["pairs"][0]
    flagged = (
        console.locator(".flagged li.card")
        .filter(has_text=pair["names"][0])
        .filter(has_text=pair["names"][1])
    )
    expect(flagged).to_have_count(1)
    for reason in pair["reasons"]:
        expect(flagged.locator(f'li[data-code="{reason["code"]}"]')).to_contain_text(
            REASON_WORDS.get(reason["code"], reason["message"])
        )
    # AND a card for each of today's KPIs, with its formula
    cards = console.locator("#projects-kpis ~ * .kpi")
    expect(cards).to_have_count(len(day))
    for kpi in day:
        card = console.locator(f'.kpi[data-kpi="{kpi["kpi_id"]}"]')
        expect(card).to_contain_text(kpi["name"])
        expect(card.locator("figcaption")).to_contain_text(kpi["formula"])
    assert_accessible(console)
    console.evaluate("() => window.scrollTo(0, 0)")
    shoot(console, "projects")

    # WHEN the list is filtered to one field: the list and the map follow, the address keeps
    # it, and the page is not reloaded
    console.evaluate("() => { window.__samePage = true; }")
    smallest = min(summary["by_field"], key=lambda row: row["projects"])
    form = console.get_by_role("form", name="사업 목록 조건")
    form.get_by_label("분야").select_option(str(smallest["field"]))
    form.get_by_role("button", name="적용").click()
    expect(listed.locator("tbody tr")).to_have_count(smallest["projects"])
    assert parse_qs(urlsplit(console.url).fragment.split("?", 1)[1])["field"] == [
        str(smallest["field"])
    ]
    # AND the KPIs switch to the week
    week = _read(stack, "/v1/kpis?period=week")["kpis"]
    kpi_form = console.get_by_role("form", name="운영 서비스 실적 지표(KPI)")
    kpi_form.get_by_label("주간").check()
    kpi_form.get_by_role("button", name="적용").click()
    expect(console.locator("#projects-kpis ~ * .kpi")).to_have_count(len(week))
    assert any("/v1/kpis?period=week" in url for url in asked)
    assert console.evaluate("() => window.__samePage === true"), "the page was reloaded"

    # AND in English the page reads in English, the KPIs by their English names
    console.get_by_role("button", name="English").click()
    expect(console.get_by_role("heading", name="Smart city projects", level=1)).to_be_visible()
    expect(console.get_by_role("table", name="Projects by field")).to_be_visible()
    for kpi in week:
        expect(console.locator(f'.kpi[data-kpi="{kpi["kpi_id"]}"] .label')).to_have_text(
            kpi.get("name_en") or kpi["name"]
        )


def _note(request: Request, asked: list[str]) -> None:
    asked.append(request.url)
