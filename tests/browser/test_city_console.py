"""The city, a shelter and a robot in the console, on the local stack in Chromium: the city
page draws the stack's whole fleet with today's figures and open alerts; an operator holds a
shelter's purifier high for 30 minutes, sees the override with its expiry (and the API's
shelter view holds it), then gives it back to automatic control; a finance person sees the
figures and nothing of the devices. axe finds nothing serious on any of the three pages, and
each is photographed at both sizes."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.kit import assert_accessible, login, shoot
from tests.browser.test_projects_console import computed_kpis
from tests.e2e.conftest import Stack
from tests.e2e.test_device_tools_e2e import _iot

SHELTER = "shelter-console-city"
"""A shelter of this module's own: the fleet's shelters are other tests' (their air episodes,
their silence and the offline alerts it raises)."""
ROBOT = "robot-001"


def _interactive(page: Page) -> None:
    """The city page's own signal that markers, alerts and figures are on screen."""
    page.wait_for_function(
        "() => performance.getEntriesByName('city:interactive').length > 0", timeout=15000
    )


def _shoot(page: Page, name: str) -> None:
    """Photograph the page from its top (a click may have scrolled it)."""
    page.evaluate("() => window.scrollTo(0, 0)")
    shoot(page, name)


def _fleet(stack: Stack) -> list[dict[str, object]]:
    _, shelters = stack.http("GET", "/v1/shelters")
    _, robots = stack.http("GET", "/v1/robots")
    return [*shelters["shelters"], *robots["robots"]]


@pytest.fixture(scope="module")
def air_reading(stack: Stack) -> None:
    """The module's shelter, provisioned and with one moderate reading, so its page has an
    air history to chart: as a device maker does it, with the real device client."""
    for args in (
        ("provision", "--thing", SHELTER, "--type", "shelter", "--name", "콘솔 도시 쉼터",
         "--district", "naeoe-dong", "--lat", "35.2368", "--lon", "128.8715"),
        ("publish", "--device", SHELTER, "telemetry", '{"pm10": 52.0, "pm25": 21.0}'),
    ):  # fmt: skip
        done = _iot(stack, *args)
        assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while stack.http("GET", f"/v1/shelters/{SHELTER}")[1]["air"]["pm10"] != 52.0:
        assert time.monotonic() < deadline, "the reading did not arrive"
        time.sleep(0.2)


def test_the_city_page_shows_the_fleet_with_figures_and_alerts(stack: Stack, console: Page) -> None:
    fleet = _fleet(stack)
    computed_kpis(stack)
    login(console, "ops-city", ["operator"])
    console.goto("/console/#/city")
    _interactive(console)

    expect(console.get_by_role("heading", name="도시 현황", level=1)).to_be_visible()
    # every device of the stack is a marker on the map
    expect(console.locator(".city-map")).to_have_attribute("data-markers", str(len(fleet)))
    # a figure: devices online out of all, as the API counts them
    online = sum(1 for d in fleet if d["status"] == "online")
    expect(console.locator(".figure", has_text="온라인 장치")).to_contain_text(
        f"{online} / {len(fleet)}"
    )
    expect(console.locator(".figure", has_text="오늘 재활용 품목")).to_be_visible()
    expect(console.get_by_role("heading", name="열린 경보", level=2)).to_be_visible()
    # today's headline KPIs (public, DESIGN §4d) beside the figures, each a card
    expect(console.locator('#city-kpis ~ * .kpi[data-kpi="items_recycled"]')).to_contain_text(
        "재활용 품목"
    )
    # the legend says in words what the colours mean
    expect(console.get_by_role("group", name="범례")).to_contain_text("매우 나쁨")
    _shoot(console, "city")
    # the map as a list: every device, each a link to its page
    console.get_by_text(re.compile(r"지도 대신 목록으로 보기")).click()
    rows = console.locator(".device-list tbody tr")
    expect(rows).to_have_count(len(fleet))
    assert_accessible(console)

    console.locator(".device-list").get_by_role("link", name=str(fleet[0]["name"])).click()
    expect(console.get_by_role("heading", name=str(fleet[0]["name"]), level=1)).to_be_visible()


def test_an_operator_overrides_a_purifier(stack: Stack, console: Page, air_reading: None) -> None:
    operator = stack.token("ops-reader", roles=("operator",))
    login(console, "ops-purifier", ["operator"])
    console.goto(f"/console/#/shelters/{SHELTER}")
    expect(console.get_by_role("heading", name="공기청정기")).to_be_visible()
    expect(console.locator(".override-now")).to_contain_text("자동 제어")
    # the air history: a chart per pollutant and the same numbers as a table
    expect(console.get_by_role("img", name=re.compile("PM10"))).to_be_visible()
    console.get_by_text("표로 보기").click()
    expect(console.get_by_role("table", name=re.compile("대기질 시간별 평균"))).to_contain_text(
        "52"
    )

    # WHEN the operator holds the purifier high for 30 minutes
    console.get_by_label("모드", exact=True).select_option("high")
    console.get_by_label("유지 시간(분)").fill("30")
    console.get_by_role("button", name="고정하기").click()

    # THEN the page shows the override, its expiry in Seoul time and who set it
    override = console.locator(".override-now")
    expect(override).to_contain_text("강 모드로 고정")
    expect(override).to_contain_text("ops-purifier")
    status, view = stack.http("GET", f"/v1/admin/shelters/{SHELTER}", token=operator)
    assert status == 200, view
    held = view["override"]
    assert (held["mode"], held["by"]) == ("high", "ops-purifier")
    until = datetime.fromisoformat(held["until"])
    assert timedelta(minutes=29) < until - datetime.now(until.tzinfo) <= timedelta(minutes=30)
    expect(override).to_contain_text(until.astimezone(ZoneInfo("Asia/Seoul")).strftime("%H:%M"))
    assert_accessible(console)
    _shoot(console, "shelter")

    # WHEN they give the purifier back to automatic control
    console.get_by_role("button", name="자동 제어로 되돌리기").click()
    expect(override).to_contain_text("자동 제어")
    status, view = stack.http("GET", f"/v1/admin/shelters/{SHELTER}", token=operator)
    assert status == 200 and view["override"] is None, view


def test_a_robot_page_shows_its_bins_and_state(stack: Stack, console: Page) -> None:
    _, robot = stack.http("GET", f"/v1/robots/{ROBOT}")
    login(console, "ops-robot", ["operator"])
    console.goto(f"/console/#/robots/{ROBOT}")
    expect(console.get_by_role("heading", name=str(robot["name"]), level=1)).to_be_visible()
    bins = console.get_by_role("table", name=re.compile("수거함별 채움"))
    expect(bins).to_contain_text("캔")
    expect(console.get_by_text("투입을 받지 않는 동안 들어온 투입")).to_be_visible()
    assert_accessible(console)
    _shoot(console, "robot")


def test_finance_sees_the_figures_and_no_device_actions(console: Page) -> None:
    login(console, "fin-city", ["finance"])
    console.goto("/console/#/city")
    _interactive(console)
    expect(console.locator(".figure", has_text="오늘 적립 포인트")).to_be_visible()
    expect(console.get_by_role("heading", name="지도")).to_have_count(0)
    expect(console.get_by_role("heading", name="열린 경보", level=2)).to_have_count(0)
    assert_accessible(console)

    console.goto(f"/console/#/shelters/{SHELTER}")
    expect(console.get_by_text("이 페이지를 볼 권한이 없습니다")).to_be_visible()
    expect(console.get_by_role("button", name="고정하기")).to_have_count(0)
