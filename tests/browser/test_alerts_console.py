"""The operators' alerts, quarantine and dead-letter pages in Chromium on the local stack:
an operator has the alerts page open when a shelter's bad air is published over MQTT (the
real device client), sees the alert appear without a reload, acknowledges it with a note and
reads the timeline; a quarantined payload holding markup shows as text and creates no
element; support reads the quarantine without any action; an operator discards an entry and
redrives a dead-letter queue. Every page passes axe and is photographed at both sizes."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from chalicelib import queues
from tests.browser import kit
from tests.e2e.conftest import Stack, until
from tests.e2e.test_device_tools_e2e import _iot as maker_types
from tests.e2e.test_fleet_e2e import _aws

SHELTER = "shelter-console-01"
ROBOT = "robot-console-01"
DISTRICT = "jangyu1-dong"
OPERATOR = "ops-browser-alerts"
DLQ = queues.DEPOSITS.dlq_name
POLL = "limit=200"
"""What tells the alerts page's poll from its first reads (limit 50 and 1)."""


def _iot(stack: Stack, *args: str) -> None:
    """`python -m iot ARGS` against the stack, as a device maker types it: the real device
    client over MQTT with the device's own certificate."""
    done = maker_types(stack, *args)
    assert done.returncode == 0, done.stderr


def _api(stack: Stack, method: str, path: str, token: str, body: Any = None) -> Any:
    status, answer = stack.http(method, path, token=token, body=body)
    assert 200 <= status < 300, (path, answer)
    return answer


@pytest.fixture(scope="module")
def shelter(stack: Stack) -> str:
    """A shelter of this module's own, so no other test's air episode is open on it."""
    _iot(stack, "provision", "--thing", SHELTER, "--type", "shelter",
         "--name", "콘솔 시험 쉼터", "--district", DISTRICT)  # fmt: skip
    return SHELTER


@pytest.fixture(scope="module")
def hostile(stack: Stack) -> dict[str, str]:
    """A robot's deposit that is not JSON but markup, quarantined as it arrived: its text and
    its entry id."""
    marker = f"console-{uuid.uuid4().hex[:8]}"
    payload = f"<img src=x onerror=alert(1)><script>window.__pwned = 1</script> {marker}"
    _iot(stack, "publish", "--device", "robot-001", "--raw", "--no-ack", "deposits", payload)
    operator = stack.token(OPERATOR, roles=("operator",))

    def mine() -> list[dict[str, Any]]:
        page = _api(stack, "GET", "/v1/admin/quarantine?source=deposits&limit=50", operator)
        return [e for e in page["items"] if marker in (e["payload"] or "")]

    entry = until(mine, lambda found: len(found) >= 1)[-1]
    return {"payload": payload, "entry_id": entry["entry_id"], "marker": marker}


def _card(page: Page, entry_id: str) -> Locator:
    return page.locator(f'article.q-entry[data-entry-id="{entry_id}"]')


def _no_markup_ran(page: Page) -> None:
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("main img, main script").count() == 0


def test_an_operator_sees_bad_air_appear_acknowledges_it_and_reads_the_timeline(
    stack: Stack, console: Page, shelter: str
) -> None:
    # GIVEN an operator with the alerts page open, filtered to air alerts in one district
    kit.login(console, OPERATOR, ["operator"])
    console.goto("/console/#/alerts")
    expect(console.get_by_role("heading", level=1)).to_have_text("경보")
    console.get_by_label("종류").select_option("air")
    console.get_by_label("구역").select_option(DISTRICT)
    console.get_by_role("button", name="적용").click()
    expect(console).to_have_url(re.compile(rf"#/alerts\?kind=air&district={DISTRICT}$"))
    rows = console.locator("tbody tr.alert-row", has_text=shelter)
    expect(console.get_by_text("자동 갱신 중")).to_be_visible()
    expect(rows).to_have_count(0)
    console.evaluate("() => { window.__sameDocument = true; }")
    # WHEN the shelter reports bad air over MQTT
    _iot(stack, "publish", "--device", shelter, "telemetry", '{"pm10": 120, "pm25": 20}')
    # THEN the alert appears in the open page, marked new, with its severity in words
    expect(rows).to_have_count(1, timeout=30_000)
    row = rows.first
    expect(row).to_contain_text("주요")
    expect(row).to_contain_text("대기질")
    expect(row).to_contain_text("새 경보")
    expect(row).to_contain_text("장유1동")
    expect(row).to_contain_text("미확인")
    expect(console.get_by_role("status").filter(has_text="새 경보: 대기질")).to_contain_text(
        shelter
    )
    assert console.evaluate("() => window.__sameDocument") is True  # no reload
    expect(row.get_by_role("link", name=shelter)).to_have_attribute("href", f"#/shelters/{shelter}")
    kit.assert_accessible(console)
    kit.shoot(console, "alerts")
    # WHEN the operator opens it and acknowledges it with a note
    row.get_by_role("link", name="대기질").click()
    expect(console.get_by_role("heading", level=1)).to_have_text(f"대기질 경보 · {shelter}")
    alert_id = console.url.rsplit("/", 1)[1]
    # an air alert clears itself: no button that would get 409 clears_itself
    expect(console.get_by_text("대기질 경보는 공기가 10분 동안")).to_be_visible()
    expect(console.get_by_role("button", name="경보 해제")).to_have_count(0)
    note = "환기 상태 확인 중 <b>현장</b>"
    console.get_by_label("확인 메모 (선택)").fill(note)
    expect(console.get_by_text(f"{len(note)}/500자").first).to_be_visible()
    console.get_by_role("button", name="경보 확인").click()
    # THEN the page shows the acknowledged alert and its timeline, the note as text
    expect(console.locator("main .notice-ok")).to_have_text("경보를 확인했습니다.")
    timeline = console.get_by_role("table", name="타임라인")
    expect(timeline.locator("tbody tr")).to_have_count(2)
    expect(timeline.locator("tbody tr").nth(0)).to_contain_text("발생")
    expect(timeline.locator("tbody tr").nth(0)).to_contain_text("시스템")
    acknowledged = timeline.locator("tbody tr").nth(1)
    expect(acknowledged).to_contain_text("확인")
    expect(acknowledged).to_contain_text(OPERATOR)
    expect(acknowledged).to_contain_text(note)
    expect(console.get_by_text(f"{OPERATOR}님이")).to_be_visible()
    expect(console.get_by_role("button", name="경보 확인")).to_have_count(0)
    # AND a comment, counted as it is typed, joins the timeline
    comment = "필터 교체 예정"
    console.get_by_label("의견", exact=True).fill(comment)
    expect(console.get_by_text(f"{len(comment)}/500자")).to_be_visible()
    console.get_by_role("button", name="의견 추가").click()
    expect(timeline.locator("tbody tr")).to_have_count(3)
    expect(timeline.locator("tbody tr").nth(2)).to_contain_text(comment)
    kit.assert_accessible(console)
    kit.shoot(console, "alert")
    # AND the API holds it
    operator = stack.token(OPERATOR, roles=("operator",))
    held = _api(stack, "GET", f"/v1/admin/alerts/{alert_id}", operator)
    assert (held["acknowledged"], held["acknowledged_by"]) == (True, OPERATOR)
    assert [(e["event"], e["by"], e["note"]) for e in held["timeline"][1:]] == [
        ("acknowledged", OPERATOR, note),
        ("commented", OPERATOR, comment),
    ]


def test_an_operator_assigns_a_fault_to_themself_and_clears_it_after_the_visit(
    stack: Stack, console: Page
) -> None:
    # GIVEN a robot of this module's own reporting a fault over MQTT
    _iot(stack, "provision", "--thing", ROBOT, "--type", "robot", "--district", "jangyu2-dong")
    status = {"online": True, "bins": {"can": 0.2, "pet": 0.3}, "fault": "motor_jam", "fw": "dev"}
    _iot(stack, "publish", "--device", ROBOT, "status", json.dumps(status))
    operator = stack.token(OPERATOR, roles=("operator",))
    until(
        lambda: _api(stack, "GET", "/v1/admin/alerts?kind=fault&district=jangyu2-dong", operator),
        lambda found: any(a["device_id"] == ROBOT for a in found["alerts"]),
    )
    kit.login(console, OPERATOR, ["operator"])
    console.goto("/console/#/alerts?kind=fault&district=jangyu2-dong")
    row = console.locator("tbody tr.alert-row", has_text=ROBOT)
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name=ROBOT)).to_have_attribute("href", f"#/robots/{ROBOT}")
    # WHEN the operator opens it, takes it, and clears it after the site visit
    row.get_by_role("link", name="고장").click()
    expect(console.get_by_role("heading", level=1)).to_have_text(f"고장 경보 · {ROBOT}")
    console.get_by_role("button", name="나에게 지정").click()
    expect(console.get_by_label("담당자 아이디")).to_have_value(OPERATOR)
    console.get_by_role("button", name="담당 지정", exact=True).click()
    expect(console.locator("main .notice-ok")).to_have_text("담당자를 지정했습니다.")
    console.get_by_role("button", name="경보 해제").click()  # a note is required
    expect(console.get_by_role("alert")).to_have_text("해제하려면 메모를 남기세요.")
    visit = "모터 걸림 제거, 정상 작동 확인"
    console.get_by_label("해제 메모 (현장 확인 내용)").fill(visit)
    console.get_by_role("button", name="경보 해제").click()
    # THEN the page shows it cleared, with each step in the timeline
    expect(console.locator("main .notice-ok")).to_have_text("경보를 해제했습니다.")
    expect(console.locator("main .facts")).to_contain_text("해제됨")
    steps = console.get_by_role("table", name="타임라인").locator("tbody tr")
    expect(steps).to_have_count(3)
    expect(steps.nth(1)).to_contain_text("담당 지정")
    expect(steps.nth(2)).to_contain_text("해제")
    expect(steps.nth(2)).to_contain_text(visit)
    expect(console.get_by_role("button", name="경보 해제")).to_have_count(0)
    # AND the API holds it
    found = _api(stack, "GET", "/v1/admin/alerts?status=cleared&kind=fault", operator)
    (cleared,) = [a for a in found["alerts"] if a["device_id"] == ROBOT]
    assert cleared["assignee"] == OPERATOR


def test_a_quarantined_payload_with_markup_shows_as_text(
    stack: Stack, console: Page, hostile: dict[str, str]
) -> None:
    dialogs: list[str] = []

    def opened(dialog: Dialog) -> None:  # alert(1) would open one
        dialogs.append(dialog.message)
        dialog.dismiss()

    console.on("dialog", opened)
    # GIVEN a robot's message of markup in quarantine (the fixture)
    kit.login(console, OPERATOR, ["operator"])
    # WHEN an operator opens the quarantine
    console.goto("/console/#/quarantine")
    card = _card(console, hostile["entry_id"])
    # THEN the payload is there as the very characters the robot sent
    expect(card.locator("pre.payload")).to_have_text(hostile["payload"])
    expect(card).to_contain_text("malformed_json")
    expect(card).to_contain_text("robot-001")
    expect(card).to_contain_text("열림")
    # AND no element was made of it, nothing ran
    _no_markup_ran(console)
    assert dialogs == []
    kit.assert_accessible(console)
    kit.shoot(console, "quarantine")


def test_support_reads_the_quarantine_without_actions(
    stack: Stack, console: Page, hostile: dict[str, str]
) -> None:
    # GIVEN a support person (read-only quarantine)
    kit.login(console, "support-browser", ["support"])
    # WHEN they open the quarantine
    console.goto("/console/#/quarantine")
    card = _card(console, hostile["entry_id"])
    # THEN they read the entry, told who acts, with no button to act
    expect(card.locator("pre.payload")).to_have_text(hostile["payload"])
    expect(console.get_by_text("상담 역할은 격리 메시지를 볼 수만 있습니다")).to_be_visible()
    expect(console.get_by_role("button", name="재처리")).to_have_count(0)
    expect(console.get_by_role("button", name="폐기")).to_have_count(0)
    expect(console.get_by_role("link", name="처리 실패 큐")).to_have_count(0)
    _no_markup_ran(console)
    kit.shoot(console, "quarantine-support")


def test_an_operator_reprocesses_then_discards_a_quarantined_entry(
    stack: Stack, console: Page, hostile: dict[str, str]
) -> None:
    # GIVEN the entry open in the quarantine
    kit.login(console, OPERATOR, ["operator"])
    console.goto("/console/#/quarantine")
    card = _card(console, hostile["entry_id"])
    expect(card).to_contain_text("열림")
    # WHEN the operator reprocesses it: markup is still no deposit
    card.get_by_role("button", name="재처리").click()
    # THEN the card shows the new outcome, and the entry stays open
    expect(card.locator(".notice-ok")).to_have_text(
        re.compile(r"^재처리했습니다: 여전히 처리할 수 없음 · malformed_json")
    )
    expect(card.locator(".facts")).to_contain_text("열림")
    expect(card.get_by_role("button", name="재처리")).to_be_visible()
    # WHEN the operator discards it with a note
    card.get_by_label("폐기 사유").fill("로봇 펌웨어 오류로 보낸 쓰레기 메시지")
    card.get_by_role("button", name="폐기").click()
    # THEN the card shows it discarded, by whom and why, with no action left
    expect(card).to_contain_text("폐기됨")
    expect(card).to_contain_text("폐기했습니다.")
    expect(card).to_contain_text(OPERATOR)
    expect(card).to_contain_text("로봇 펌웨어 오류로 보낸 쓰레기 메시지")
    expect(card.get_by_role("button")).to_have_count(0)
    expect(card.locator("pre.payload")).to_have_text(hostile["payload"])
    _no_markup_ran(console)
    # AND the API holds it
    operator = stack.token(OPERATOR, roles=("operator",))
    page = _api(stack, "GET", "/v1/admin/quarantine?source=deposits&limit=50", operator)
    (entry,) = [e for e in page["items"] if e["entry_id"] == hostile["entry_id"]]
    assert (entry["status"], entry["closed_by"]) == ("discarded", OPERATOR)


def test_an_operator_redrives_a_dead_letter_queue(stack: Stack, console: Page) -> None:
    # GIVEN a deposit parked on the deposits DLQ (as after five failed receives)
    sqs = _aws(stack, "sqs")
    deposit = {
        "event_id": str(uuid.uuid4()),
        "citizen": {"phone": "010-5555-0199"},
        "items": [{"material": "can", "accepted": 1, "rejected": 0}],
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    envelope = {
        "payload": base64.b64encode(json.dumps(deposit).encode()).decode(),
        "device_id": "robot-001",
        "client_id": "robot-001",
        "received_at": int(datetime.now(UTC).timestamp() * 1000),
    }
    url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(envelope))
    operator = stack.token(OPERATOR, roles=("operator",))

    def depth() -> int:
        body = _api(stack, "GET", "/v1/admin/dead-letters", operator)
        return int(next(q["messages"] for q in body["queues"] if q["queue"] == DLQ))

    parked = depth()
    assert parked >= 1
    # WHEN an operator opens the dead letters and redrives the queue, at most 10
    kit.login(console, OPERATOR, ["operator"])
    console.goto("/console/#/dead-letters")
    row = console.get_by_role("row").filter(has=console.get_by_text(DLQ, exact=True))
    expect(row).to_contain_text(str(parked))
    kit.assert_accessible(console)
    kit.shoot(console, "dead-letters")
    row.get_by_label(f"{DLQ} 최대 개수").fill("10")
    row.get_by_role("button", name=f"{DLQ} 되돌리기").click()
    # THEN the page says how many moved, and the queue is empty
    expect(console.locator(".redrive-result")).to_have_text(
        f"{DLQ}: {min(parked, 10)}건을 원래 큐로 옮겼습니다."
    )
    assert until(depth, lambda n: n == max(0, parked - 10)) == max(0, parked - 10)


def test_the_alerts_page_polls_while_open_slower_when_hidden_and_not_after(
    stack: Stack, console: Page
) -> None:
    # GIVEN an operator's alerts page, its clock in the test's hands
    polls: list[str] = []
    console.on(
        "request",
        lambda request: polls.append(request.url) if POLL in request.url else None,
    )
    console.clock.install()  # before the console's first document: its timers are the fake ones
    kit.login(console, OPERATOR, ["operator"])
    console.goto("/console/#/alerts")
    expect(console.get_by_text("자동 갱신 중")).to_be_visible()
    assert polls == []
    # WHEN 5 seconds pass, it asks for what changed (since the newest alert it has seen)
    with console.expect_request(lambda r: POLL in r.url):
        console.clock.run_for(5_000)
    assert "status=all" in polls[0]
    # WHEN the tab is hidden, the next poll waits a minute
    console.evaluate(
        """() => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    with console.expect_request(lambda r: POLL in r.url):
        console.clock.run_for(5_000)  # the one already due
    expect(console.get_by_text("창이 가려져 있어 천천히 확인합니다")).to_be_visible()
    console.clock.run_for(30_000)
    console.wait_for_timeout(300)
    assert len(polls) == 2
    # WHEN it is seen again, it asks at once
    with console.expect_request(lambda r: POLL in r.url):
        console.evaluate(
            """() => {
                Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
                document.dispatchEvent(new Event("visibilitychange"));
            }"""
        )
    expect(console.get_by_text("자동 갱신 중")).to_be_visible()
    # WHEN the operator leaves the page, polling stops
    console.get_by_role("link", name="격리 메시지").click()
    expect(console.get_by_role("heading", level=1)).to_have_text("격리 메시지")
    seen = len(polls)
    console.clock.run_for(120_000)
    console.wait_for_timeout(300)
    assert len(polls) == seen
