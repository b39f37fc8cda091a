"""The console's finance and support pages in a real browser, on the shared local stack: a
finance person approves a run another one started, downloads its transfer file and settles
it; support finds a citizen by phone and proposes a correction that finance approves; a
support person cannot reach payouts; and every page of theirs passes axe and is
photographed at both sizes.

The data is made as the city makes it, over the HTTP API: citizens register, link a phone
(the code read from the local outbox) and give a payout account; their balances come from
corrections (proposed by one staff member, approved by another); a run is started by a
finance person. A run pays every balance in the city at or over the threshold, so these
tests name a month long past (the e2e payout test runs last month on the same stack) and
assert only on their own citizens."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from iot.device import new_event_id
from tests.browser.kit import assert_accessible, login, shoot
from tests.e2e.conftest import Stack

SEOUL = ZoneInfo("Asia/Seoul")
ACCOUNT = {"bank": "KB", "account_number": "123456-01-234567", "holder": "김 하늘"}
STARTER = "money-fin-starter"
CHECKER = "money-fin-checker"
SUPPORT = "money-support"
ADMIN = "money-admin"


def _token(stack: Stack, sub: str, roles: tuple[str, ...] = ()) -> str:
    """A dev token from the console's own dev login (no roles: a citizen's)."""
    body = json.dumps({"sub": sub, "roles": list(roles)}).encode()
    request = urllib.request.Request(stack.api_url + "/console/dev-login", data=body, method="POST")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=15) as response:
        return str(json.loads(response.read())["token"])


def _ok(answer: tuple[int, Any], *statuses: int) -> Any:
    status, body = answer
    assert status in (statuses or (200, 201)), body
    return body


def _phone() -> str:
    return f"010-{secrets.randbelow(9000) + 1000}-{secrets.randbelow(9000) + 1000}"


@dataclass
class Citizen:
    citizen_id: str
    name: str
    token: str
    phone: str | None = None


def _citizen(
    stack: Stack, name: str, *, points: int = 0, account: bool = True, phone: bool = False
) -> Citizen:
    """A registered citizen with `points` credited by an approved correction."""
    citizen_id = f"money-{secrets.token_hex(4)}"
    token = _token(stack, citizen_id)
    body = {"display_name": name, "district": "naeoe-dong"}
    _ok(stack.http("PUT", "/v1/me", token=token, body=body))
    number = _phone() if phone else None
    if number:
        stack.link_phone(token, number)
    if account:
        _ok(stack.http("PUT", "/v1/me/payout-account", token=token, body=ACCOUNT))
    if points:
        proposer = _token(stack, "money-seed-support", ("support",))
        approver = _token(stack, "money-seed-finance", ("finance",))
        proposal = {"points": points, "reason": "test balance"}
        path = f"/v1/admin/citizens/{citizen_id}/corrections"
        made = _ok(stack.http("POST", path, token=proposer, body=proposal))
        approve = f"/v1/admin/corrections/{made['correction_id']}/approve"
        _ok(stack.http("POST", approve, token=approver))
    return Citizen(citizen_id, name, token, number)


def _balance(stack: Stack, citizen: Citizen) -> int:
    return int(_ok(stack.http("GET", "/v1/me", token=citizen.token))["balance"])


def _recycle(stack: Stack, citizen: Citizen, cans: int, pets: int) -> None:
    """A deposit at a robot, named by the citizen's phone, as a robot sends it."""
    robot = stack.robot("robot-001")
    try:
        event = {
            "event_id": new_event_id(),
            "citizen": {"phone": citizen.phone},
            "items": [
                {"material": "can", "accepted": cans, "rejected": 0},
                {"material": "pet", "accepted": pets, "rejected": 0},
            ],
            "occurred_at": datetime.now(SEOUL).isoformat(),
        }
        # A resend of the same event (no ack within 2 s, a cold worker) is acked `duplicate`:
        # it was credited once.
        assert robot.deposit(event, timeout=30)["status"] in ("credited", "duplicate")
    finally:
        robot.disconnect()


def _start_run(stack: Stack, starter: str) -> dict[str, Any]:
    """A run started by `starter` for a month long past that has no run yet, once ready."""
    token = _token(stack, starter, ("finance",))
    for year in range(2011, 2020):
        for month in range(1, 13):
            period = f"{year}-{month:02d}"
            status, run = stack.http(
                "POST", "/v1/admin/payout-runs", token=token, body={"period": period}
            )
            if status == 201:
                return _until_ready(stack, token, run["run_id"])
            assert (status, run["error"]["code"]) == (409, "run_exists"), run
    raise AssertionError("no free month for a payout run")


def _until_ready(stack: Stack, token: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        run = _ok(stack.http("GET", f"/v1/admin/payout-runs/{run_id}", token=token))
        if run["status"] == "ready" or time.monotonic() > deadline:
            assert run["status"] == "ready", run
            return dict(run)
        time.sleep(0.3)


def _sign_in(page: Page, person: str, roles: tuple[str, ...]) -> None:
    """The dev login, then the person's first page drawn (the shell's router lets a page still
    loading draw over the next one when that one is refused at once: wait for it)."""
    login(page, person, roles)
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("main .loading")).to_have_count(0)


def _confirm(page: Page, button: str) -> None:
    """Answer the console's money confirmation: it says what will happen; confirm."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=button).click()
    expect(dialog).to_be_hidden()


def test_finance_approves_a_run_as_a_second_person_exports_it_and_settles_it(
    stack: Stack, new_page: Callable[..., Page], tmp_path: Path
) -> None:
    # GIVEN citizens over the threshold (one without an account) and a run another finance
    # person started
    paid = _citizen(stack, "지급 받을 시민", points=5_000)
    bounced = _citizen(stack, "이체 실패 시민", points=3_200)
    no_account = _citizen(stack, "계좌 없는 시민", points=2_500, account=False)
    run = _start_run(stack, STARTER)
    run_page = f"/console/#/payouts/{run['run_id']}"

    # WHEN the person who started it opens the run
    starter = new_page(stack.api_url)
    _sign_in(starter, STARTER, ("finance",))
    starter.goto(run_page)
    # THEN they cannot approve it, and are told why
    expect(starter.get_by_role("button", name="승인")).to_be_disabled()
    expect(starter.get_by_text("이 실행은 내가 시작했으므로 승인할 수 없습니다")).to_be_visible()

    # WHEN another finance person opens it from the list of runs
    page = new_page(stack.api_url)
    _sign_in(page, CHECKER, ("finance",))
    page.goto("/console/#/payouts")
    # AND first tries to start this month's run: refused, with the reason in words
    page.get_by_label("지급할 달").fill(datetime.now(SEOUL).strftime("%Y-%m"))
    page.get_by_role("button", name="실행 시작").click()
    _confirm(page, "실행 시작")
    expect(page.get_by_role("alert")).to_contain_text("아직 끝나지 않은 달입니다")
    page.get_by_role("link", name=run["period"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{run['period']} 지급 실행")
    expect(page.get_by_text(f"{STARTER} ·")).to_be_visible()
    # AND lists the citizens skipped for having no account
    page.get_by_label("이유").select_option("no_account")
    skipped = page.get_by_role("table", name=re.compile("지급에서 제외된 시민: 지급 계좌 없음"))
    expect(skipped.get_by_role("row", name=re.compile(no_account.citizen_id))).to_contain_text(
        "지급 계좌 없음"
    )
    # AND approves it, confirming what it pays
    page.get_by_role("button", name="승인").click()
    expect(page.get_by_role("dialog")).to_contain_text(f"{run['citizens']}명에게")
    _confirm(page, "승인")
    # THEN it is approved by them, as the API says too
    expect(page.get_by_text(f"{CHECKER}님이")).to_be_visible()
    admin = _token(stack, ADMIN, ("admin",))
    path = f"/v1/admin/payout-runs/{run['run_id']}"
    assert _ok(stack.http("GET", path, token=admin))["approved_by"] == CHECKER

    # WHEN they download the transfer file
    with page.expect_download() as waiting:
        page.get_by_role("button", name="CSV 내려받기").click()
    download = waiting.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    # THEN the page names the file and shows the SHA-256 the run records, the file's own
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    assert download.suggested_filename == f"{run['run_id']}.csv"
    expect(page.get_by_text(f"내려받음: {download.suggested_filename}")).to_be_visible()
    expect(page.locator("code.sha")).to_have_text(digest)
    assert _ok(stack.http("GET", path, token=admin))["exports"]["csv"]["sha256"] == digest

    # WHEN they settle it from the file: every transfer paid but one that bounced
    page.get_by_label("이체 파일(CSV)의 시민을 '지급됨'에 채우기").set_input_files(saved)
    expect(page.get_by_text(re.compile(r"파일에서 [\d,]+명을 채웠습니다"))).to_be_visible()
    listed = page.get_by_label("지급된 시민 ID").input_value().split()
    assert paid.citizen_id in listed and bounced.citizen_id in listed
    page.get_by_label("지급된 시민 ID").fill(
        "\n".join(c for c in listed if c != bounced.citizen_id)
    )
    page.get_by_label("실패한 시민 ID").fill(bounced.citizen_id)
    page.get_by_role("button", name="정산 보내기").click()
    expect(page.get_by_role("dialog")).to_contain_text("실패 1명")
    _confirm(page, "정산 보내기")
    # THEN the run is settled, and the bounced transfer is back in its citizen's balance
    expect(page.get_by_text("모든 항목이 정산되었습니다.")).to_be_visible()
    expect(page.locator(".steps [aria-current=step]")).to_have_text("정산됨")
    assert _ok(stack.http("GET", path, token=admin))["status"] == "settled"
    assert (_balance(stack, paid), _balance(stack, bounced)) == (0, 3_200)
    assert _balance(stack, no_account) == 2_500


def test_support_finds_a_citizen_by_phone_and_proposes_a_correction_finance_approves(
    stack: Stack, new_page: Callable[..., Page]
) -> None:
    # GIVEN a citizen with a linked phone and 800 points
    citizen = _citizen(stack, "전화 건 시민", points=800, phone=True)
    assert citizen.phone is not None

    # WHEN support looks the caller up by phone number
    page = new_page(stack.api_url)
    _sign_in(page, SUPPORT, ("support",))
    page.goto("/console/#/citizens")
    page.get_by_label("찾을 값").fill(citizen.phone)
    page.get_by_role("button", name="찾기").click()
    # THEN the one citizen is shown, and the number is neither shown nor kept
    found = page.get_by_role("region", name="조회 결과")
    expect(found).to_contain_text(citizen.citizen_id)
    expect(found).to_contain_text("800원")
    expect(found).to_contain_text("******4567")
    digits = citizen.phone.replace("-", "")
    assert digits[-8:] not in page.content().replace("-", "")
    assert digits[-4:] not in page.url
    expect(page.get_by_label("찾을 값")).to_have_value("")

    # WHEN they open the citizen and propose a correction: first a wrong amount
    found.get_by_role("link", name=citizen.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(citizen.name)
    page.get_by_label("포인트", exact=True).fill("200000")
    page.get_by_label("사유").fill("로봇 인식 오류 보상")
    page.get_by_role("button", name="정정 제안").click()
    # THEN the form says what is wrong, and nothing is proposed
    expect(page.get_by_role("alert")).to_contain_text("−100,000 ~ 100,000")
    finance = _token(stack, "money-look", ("finance",))
    pending = _ok(stack.http("GET", "/v1/admin/corrections?status=pending", token=finance))
    assert not [c for c in pending["corrections"] if c["citizen_id"] == citizen.citizen_id]
    # WHEN they correct the amount
    page.get_by_label("포인트", exact=True).fill("1500")
    page.get_by_role("button", name="정정 제안").click()
    # THEN it is proposed and awaits finance
    expect(page.get_by_text("정정을 제안했습니다(+1,500원)")).to_be_visible()

    # WHEN a finance person approves it from the pending corrections, confirming it
    checker = new_page(stack.api_url)
    _sign_in(checker, CHECKER, ("finance",))
    checker.goto("/console/#/corrections")
    row = checker.get_by_role("row").filter(has_text=citizen.citizen_id)
    expect(row).to_contain_text("로봇 인식 오류 보상")
    expect(row).to_contain_text(SUPPORT)
    row.get_by_role("button", name="승인").click()
    expect(checker.get_by_role("dialog")).to_contain_text("+1,500원")
    _confirm(checker, "승인")
    # THEN it leaves the pending list and the citizen's balance changed
    expect(checker.get_by_text("승인했습니다. 시민의 잔액에 반영되었습니다.")).to_be_visible()
    expect(checker.get_by_role("row").filter(has_text=citizen.citizen_id)).to_have_count(0)
    assert _balance(stack, citizen) == 2_300
    # AND support sees it on the citizen's page, in the balance and the ledger
    page.reload()
    expect(page.locator(".balance")).to_have_text("2,300원")
    expect(page.get_by_role("table", name="원장 (최근부터)")).to_contain_text("+1,500원")


def test_a_support_person_cannot_reach_payout_actions(
    stack: Stack, new_page: Callable[..., Page]
) -> None:
    # GIVEN a support person signed in
    page = new_page(stack.api_url)
    _sign_in(page, SUPPORT, ("support",))
    # THEN the menu has no payouts
    menu = page.get_by_role("navigation")
    expect(menu.get_by_role("link", name="시민 조회")).to_be_visible()
    expect(menu.get_by_role("link", name="지급")).to_have_count(0)
    # WHEN they open the payouts by address
    page.goto("/console/#/payouts")
    # THEN the page says who may, and offers no payout action
    expect(page.get_by_role("alert")).to_contain_text("필요한 역할: 관리자, 재무")
    expect(page.get_by_role("button", name="실행 시작")).to_have_count(0)
    page.goto("/console/#/payouts/payout-2011-01")
    expect(page.get_by_role("alert")).to_contain_text("필요한 역할: 관리자, 재무")
    expect(page.get_by_role("button", name="승인")).to_have_count(0)


@pytest.fixture
def admin_page(stack: Stack, new_page: Callable[..., Page]) -> Page:
    page = new_page(stack.api_url)
    _sign_in(page, ADMIN, ("admin",))
    return page


def test_every_money_page_passes_axe_and_is_photographed(stack: Stack, admin_page: Page) -> None:
    # GIVEN a run awaiting review, a pending correction, a citizen with a ledger who
    # recycled this month, an audit
    citizen = _citizen(stack, "화면 시민", points=2_400, phone=True)
    _recycle(stack, citizen, cans=3, pets=2)
    month = datetime.now(SEOUL).strftime("%Y-%m")
    run = _start_run(stack, STARTER)
    support = _token(stack, SUPPORT, ("support",))
    proposal = {"points": -400, "reason": "중복 적립", "reference": "CS-0001"}
    path = f"/v1/admin/citizens/{citizen.citizen_id}/corrections"
    _ok(stack.http("POST", path, token=support, body=proposal))
    _ok(stack.http("POST", "/v1/admin/audit", token=_token(stack, ADMIN, ("admin",))))
    page = admin_page
    pages = {
        "money-payouts": ("/console/#/payouts", "지급 실행"),
        "money-payout-run": (f"/console/#/payouts/{run['run_id']}", f"{run['period']} 지급 실행"),
        "money-corrections": ("/console/#/corrections", "포인트 정정"),
        "money-citizens": ("/console/#/citizens", "시민 조회"),
        "money-citizen": (f"/console/#/citizens/{citizen.citizen_id}", citizen.name),
        "money-audit": ("/console/#/audit", "원장 감사"),
        "money-reports": (f"/console/#/reports?month={month}", "재활용 보고서"),
        "money-actions": ("/console/#/actions", "작업 기록"),
    }
    for name, (address, heading) in pages.items():
        # WHEN each page is open and drawn
        page.goto(address)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator("main .loading")).to_have_count(0)
        if name == "money-corrections":
            # the debit would take the balance (paid out by the run) below zero
            row = page.get_by_role("row").filter(has_text=citizen.citizen_id)
            row.get_by_role("button", name="승인").click()
            _confirm(page, "승인")
            expect(row.get_by_role("alert")).to_contain_text("잔액이 0 아래가 됩니다")
        if name == "money-citizens":
            page.get_by_label("찾는 방법").select_option("citizen_id")
            page.get_by_label("찾을 값").fill(citizen.citizen_id)
            page.get_by_role("button", name="찾기").click()
            expect(page.get_by_role("region", name="조회 결과")).to_be_visible()
        if name == "money-reports":
            by_district = page.get_by_role("table", name=f"{month} 행정동별 재활용 품목")
            expect(by_district.get_by_role("row", name=re.compile("내외동"))).to_be_visible()
            with page.expect_download() as waiting:
                page.get_by_role("button", name="시민별 CSV 내려받기").click()
            assert waiting.value.suggested_filename == f"recycling-{month}.csv"
            report = Path(waiting.value.path()).read_text(encoding="utf-8-sig")
            assert citizen.citizen_id in report
            expect(page.get_by_text(f"내려받음: recycling-{month}.csv")).to_be_visible()
        if name == "money-audit":
            expect(page.get_by_text("맞음: 시 전체의 포인트가 맞습니다.")).to_be_visible()
        # THEN axe finds nothing serious, and it is photographed at both sizes
        assert_accessible(page)
        shoot(page, name)
    # AND the confirmation dialog too
    page.goto(f"/console/#/payouts/{run['run_id']}")
    page.get_by_role("button", name="승인").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert_accessible(page)
    shoot(page, "money-confirm")
    page.get_by_role("dialog").get_by_role("button", name="취소").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
