"""A hostile pass over the operators' console, by class: markup from outsiders (device
names, a citizen's display name, alert notes and comments, correction reasons, quarantined
fleet payloads, the address's own parameters) is text everywhere; each role (and a
citizen's token) sees only its pages and sends no request it cannot make; the session
lives in one tab's sessionStorage and ends cleanly however it ends; the hosted login
(PKCE against a stand-in for Cognito) refuses a wrong state and a replayed code. Every
page is visited as every role, in both languages, with the CSP in force (a violation is a
console error, which fails the test)."""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Request, Response, expect

from infra.console_site import CONSOLE_DIR
from infra.local.console_host import ConsoleHost
from infra.local.dev_issuer import DevIssuer, ensure_issuer
from tests.browser import kit
from tests.browser.hosted_login import HostedLogin, _s256
from tests.e2e.conftest import Stack, until
from tests.e2e.test_device_tools_e2e import _iot

TOKEN_KEY = "gimhae.console.token"
LANG_KEY = "gimhae.console.lang"
STAFF = ("operator", "finance", "support", "admin")
SHELTER = "shelter-hostile-01"
ROBOT = "robot-hostile-01"
DISTRICT = "jangyu1-dong"
SHELTER_NAME = '"><svg onload=window.__pwned=1> 쉼터 e\u0301\u0301 한\u0300글'
ROBOT_NAME = "<img src=x onerror=window.__pwned=1>" + "W" * 40 + "가" * 20
CITIZEN_NAME = "<b>굵게</b>\"'><i>x"
NOTE = "<img src=x onerror=window.__pwned=2> 확인함"
COMMENT = '</td><script>window.__pwned=3</script> 필터 "교체"'
REASON = "<iframe src=javascript:window.__pwned=4> 보정"
REFERENCE = "<a href=javascript:alert(1)>ref</a>"
FLEET_PAYLOAD = "<img src=x onerror=window.__pwned=5> telemetry-hostile"
HOSTILE_HASHES = (
    "#/alerts/<img src=x onerror=window.__pwned=6>",
    "#/citizens/%3Cscript%3Ewindow.__pwned=7%3C%2Fscript%3E",
    "#/citizens/" + "a" * 5000,
    "#/payouts/../../",
    "#/payouts/..",
    "#/citizens/%2E%2E",
    "#/alerts/%E0%A4%A",
    "#/robots/%00",
    "#/shelters/\u202eevil",
)
HOSTILE_QUERIES = (
    "#/actions?actor=<img src=x onerror=window.__pwned=8>&target=%00&since=<b>",
    "#/quarantine?source=<svg onload=window.__pwned=9>",
    "#/reports?month=2026-13<i>",
    "#/alerts?district=../../x&status=<i>x</i>&kind=%E0%A4%A",
    "#/corrections?status=<b>approved</b>",
    "#/projects?field=<img src=x onerror=window.__pwned=10>&year=<b>&period=%E0%A4%A&date=<i>",
)
MARKUP_PROBE = """() => ({
    pwned: window.__pwned ?? null,
    handlers: document.querySelectorAll('[onerror],[onload],[onclick],iframe,object,embed')
        .length,
    scripts: [...document.scripts].map((s) => s.src),
    injected: document.querySelectorAll('main img, main iframe, main b, main i, #top img').length,
})"""


def _routes() -> list[dict[str, Any]]:
    """console/js/routes.js's table, as the console has it."""
    text = (CONSOLE_DIR / "js" / "routes.js").read_text(encoding="utf-8")
    found = []
    for line in re.findall(r"\{ path: [^\n]+\}", text):
        powers = re.search(r"powers: \[([^\]]*)\]", line)
        assert powers is not None, line
        found.append(
            {
                "path": re.search(r'path: "([^"]+)"', line).group(1),  # type: ignore[union-attr]
                "powers": re.findall(r'"(\w+)"', powers.group(1)),
                "nav": bool(re.search(r"nav: ", line)),
            }
        )
    assert len(found) >= 15, found
    return found


ROUTES = _routes()


def _issuer(stack: Stack) -> DevIssuer:
    return ensure_issuer(stack.state_dir)


def _api(stack: Stack, method: str, path: str, token: str, body: Any = None) -> Any:
    status, answer = stack.http(method, path, token=token, body=body)
    assert 200 <= status < 300, (method, path, answer)
    return answer


@dataclass
class Hostile:
    citizen_id: str
    alert_id: str
    correction_id: str


@pytest.fixture(scope="module")
def hostile(stack: Stack) -> Hostile:
    """Everything outsiders can write, written with markup: two devices' names, a fleet
    message that is not JSON, a citizen's display name, an alert's note and comment, and a
    correction's reason and reference."""
    for thing, kind, name in ((SHELTER, "shelter", SHELTER_NAME), (ROBOT, "robot", ROBOT_NAME)):
        done = _iot(stack, "provision", "--thing", thing, "--type", kind, "--name", name,
                    "--district", DISTRICT)  # fmt: skip
        assert done.returncode == 0, done.stderr
    for raw, payload in (("--raw", FLEET_PAYLOAD), ("--qos=1", '{"pm10": 150, "pm25": 20}')):
        done = _iot(stack, "publish", "--device", SHELTER, raw, "telemetry", payload)
        assert done.returncode == 0, done.stderr
    issuer = _issuer(stack)
    admin = issuer.mint("hostile-admin", roles=["admin"])
    citizen_id = f"hostile-{secrets.token_hex(4)}"
    citizen = issuer.mint(citizen_id)
    _api(stack, "PUT", "/v1/me", citizen, {"display_name": CITIZEN_NAME, "district": "naeoe-dong"})
    proposal = {"points": 7, "reason": REASON, "reference": REFERENCE}
    support = issuer.mint("hostile-support", roles=["support"])
    made = _api(stack, "POST", f"/v1/admin/citizens/{citizen_id}/corrections", support, proposal)

    def air_alert() -> list[dict[str, Any]]:
        page = _api(stack, "GET", "/v1/admin/alerts?status=active&limit=200", admin)
        return [a for a in page["alerts"] if a["device_id"] == SHELTER]

    alert = until(air_alert, lambda found: bool(found))[0]
    path = f"/v1/admin/alerts/{alert['alert_id']}"
    _api(stack, "POST", f"{path}/acknowledge", admin, {"note": NOTE})
    _api(stack, "POST", f"{path}/comments", admin, {"text": COMMENT})

    def quarantined() -> list[dict[str, Any]]:
        page = _api(stack, "GET", "/v1/admin/quarantine?source=fleet&limit=50", admin)
        return [e for e in page["items"] if "telemetry-hostile" in (e["payload"] or "")]

    until(quarantined, lambda found: bool(found))
    return Hostile(citizen_id, alert["alert_id"], made["correction_id"])


@dataclass
class Seen:
    """What the page asked the API and how it answered; dialogs it opened."""

    requests: list[str]
    answers: list[tuple[int, str]]
    dialogs: list[str]

    def forbidden(self) -> list[str]:
        return [url for status, url in self.answers if status == 403]


def _watch(page: Page) -> Seen:
    seen = Seen([], [], [])

    def on_request(request: Request) -> None:
        if "/v1/" in request.url:
            seen.requests.append(f"{request.method} {urlsplit(request.url).path}")

    def on_response(response: Response) -> None:
        if "/v1/" in response.url:
            seen.answers.append((response.status, response.url))

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
    return seen


def _enter(page: Page, token: str | None, language: str = "ko") -> None:
    """The console's address with `token` in this tab's sessionStorage, in `language`."""
    page.goto("/console/#/login")
    page.evaluate(
        "([key, token, langKey, lang]) => { if (token) sessionStorage.setItem(key, token);"
        " localStorage.setItem(langKey, lang); }",
        [TOKEN_KEY, token, LANG_KEY, language],
    )
    page.reload()  # the console loads one language's words as it starts
    expect(page.locator("html")).to_have_attribute("lang", language)


def _visit(page: Page, where: str) -> None:
    """Go to `where` (a hash) and wait until the page has drawn (not loading any more)."""
    page.evaluate("(hash) => { location.hash = hash; }", where)
    page.wait_for_function(
        "() => document.querySelector('main') && !document.querySelector('main .loading')"
        " && document.querySelector('main').children.length > 0"
    )
    page.wait_for_timeout(150)  # a page's first requests have gone out and come back


def _no_markup_ran(page: Page, seen: Seen) -> None:
    probe = page.evaluate(MARKUP_PROBE)
    assert probe["pwned"] is None, probe
    assert probe["handlers"] == 0, probe
    assert probe["injected"] == 0, probe
    own = page.evaluate("() => location.origin") + "/console/"
    assert all(src.startswith(own) for src in probe["scripts"]), probe
    assert seen.dialogs == []


def _session_is_tab_only(page: Page) -> None:
    """No cookie at all, and nothing token-like in localStorage."""
    assert page.context.cookies() == []
    stored = page.evaluate("() => Object.entries(localStorage)")
    assert all(not value.startswith("eyJ") for _key, value in stored), stored
    assert all(key != TOKEN_KEY for key, _value in stored), stored


# 1. Markup from outsiders is text everywhere


def test_markup_from_outsiders_is_text_everywhere(
    stack: Stack, console: Page, hostile: Hostile
) -> None:
    # GIVEN an admin (who sees every page) and everything outsiders wrote, with markup
    seen = _watch(console)
    _enter(console, _issuer(stack).mint("hostile-reader", roles=["admin"]))
    texts = {
        "#/city": [SHELTER_NAME, ROBOT_NAME],
        f"#/shelters/{SHELTER}": [SHELTER_NAME],
        f"#/robots/{ROBOT}": [ROBOT_NAME],
        "#/alerts": [],  # lists devices by id
        f"#/alerts/{hostile.alert_id}": [NOTE, COMMENT],
        f"#/citizens/{hostile.citizen_id}": [CITIZEN_NAME],
        "#/corrections": [REASON, REFERENCE],
        "#/quarantine?source=fleet": [FLEET_PAYLOAD],
        "#/actions": [],
    }
    for where, expected in texts.items():
        # WHEN each page is opened
        _visit(console, where)
        # THEN no element, script or dialog came of it, and the text reads as typed
        if where == "#/city":  # the map as a list: drawn when opened
            console.locator("main details.device-list summary").click()
        _no_markup_ran(console, seen)
        main = console.locator("main")
        for text in expected:
            shown = main.get_by_text(text, exact=False).first
            expect(shown, f"{where}: {text!r}").to_be_visible()
    # AND a name of 96 characters, 40 of them one word, wraps on a phone (no sideways scroll)
    _visit(console, f"#/robots/{ROBOT}")
    kit.shoot(console, "hostile-long-name")
    console.set_viewport_size({"width": 390, "height": 844})
    assert console.evaluate("() => document.documentElement.scrollWidth") <= 390
    _session_is_tab_only(console)


def test_the_address_is_never_markup_nor_a_path_to_elsewhere(stack: Stack, console: Page) -> None:
    # GIVEN an admin
    seen = _watch(console)
    _enter(console, _issuer(stack).mint("hostile-hash", roles=["admin"]))
    for where in HOSTILE_HASHES:
        before = len(seen.requests)
        # WHEN the address holds markup, an escape that decodes to nothing, a dot segment
        _visit(console, where)
        # THEN no element or script comes of it, and no call leaves the page's own API path
        _no_markup_ran(console, seen)
        for request in seen.requests[before:]:
            method, path = request.split(" ", 1)
            assert method == "GET" and path.rstrip("/") not in ("/v1", "/v1/admin"), request
        # AND the page says not found (or the API's "no such ...") rather than breaking
        expect(console.locator("main .notice")).to_have_count(1)
    for where in HOSTILE_QUERIES:
        # WHEN a page's filters in the address hold markup or nonsense
        _visit(console, where)
        # THEN they are ignored or sent as text, and the page draws
        _no_markup_ran(console, seen)
        drawn = console.locator("main h1")
        expect(drawn, f"{where}: {console.locator('main').inner_text()[:200]}").to_have_count(1)
    assert not seen.forbidden()
    _session_is_tab_only(console)


# 2. Roles: the menu, the notice, the requests


def _allowed(route: dict[str, Any], roles: tuple[str, ...], powers: dict[str, list[str]]) -> bool:
    return any(role in powers.get(power, ["admin"]) for power in route["powers"] for role in roles)


def _address(route: dict[str, Any], ids: dict[str, str]) -> str:
    return "#" + re.sub(r":(\w+)", lambda m: ids[route["path"].split("/")[1]], route["path"])


@pytest.mark.parametrize(
    ("role", "languages"),
    [("operator", ("ko",)), ("finance", ("en",)), ("support", ("ko",)), ("admin", ("ko", "en"))],
)
def test_each_role_sees_and_asks_for_only_what_it_may(
    stack: Stack, console: Page, hostile: Hostile, role: str, languages: tuple[str, ...]
) -> None:
    powers = json.loads(urllib.request.urlopen(stack.api_url + "/console/config.json").read())[
        "powers"
    ]
    ids = {"alerts": hostile.alert_id, "shelters": SHELTER, "robots": ROBOT,
           "citizens": hostile.citizen_id, "payouts": "run-none"}  # fmt: skip
    seen = _watch(console)
    for language in languages:
        _enter(console, _issuer(stack).mint(f"hostile-{role}", roles=[role]), language)
        for route in ROUTES:
            before = len(seen.requests)
            # WHEN the person goes to every page by its address
            _visit(console, _address(route, ids))
            allowed = _allowed(route, (role,), powers)
            # THEN the menu lists exactly the pages the role may open
            menu = console.locator("#nav a").evaluate_all(
                "(links) => links.map((a) => a.getAttribute('href'))"
            )
            assert menu == [
                f"#{r['path']}" for r in ROUTES if r["nav"] and _allowed(r, (role,), powers)
            ]
            forbidden = console.locator("main .notice-error").filter(
                has_text=re.compile("권한|roles do not allow")
            )
            if allowed:
                expect(forbidden).to_have_count(0)
            else:
                # AND a page it may not open says so and asks the API for nothing
                expect(forbidden).to_have_count(1)
                assert seen.requests[before:] == [], route
            if not allowed:
                kit.assert_accessible(console)  # the refusal itself is accessible
            elif role == "admin":
                # AND every page, in each language, at the desktop and the phone width, has
                # no serious or critical accessibility violation
                for width, height in kit.SIZES.values():
                    console.set_viewport_size({"width": width, "height": height})
                    kit.assert_accessible(console)
                width, height = kit.SIZES["desktop"]
                console.set_viewport_size({"width": width, "height": height})
    # AND nothing the pages asked was refused: no request the role cannot make was sent
    assert not seen.forbidden(), seen.forbidden()
    _session_is_tab_only(console)


def test_a_citizens_token_sees_no_page_of_the_console(stack: Stack, console: Page) -> None:
    # GIVEN a citizen's token (no staff group), as a citizen's app holds it
    seen = _watch(console)
    token = _issuer(stack).mint(f"hostile-citizen-{secrets.token_hex(3)}")
    for route in ROUTES:
        _enter(console, token)
        # WHEN it is used for each page's address
        console.goto(f"/console/#{route['path'].replace(':id', 'x')}")
        # THEN it is the login, with a word on why, the token dropped, and no API call made
        expect(console.get_by_role("heading", name="콘솔 로그인")).to_be_visible()
        expect(console.locator("#nav")).to_be_hidden()
        assert console.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    expect(console.get_by_text("직원 역할이 없습니다").first).to_be_attached()
    assert seen.requests == []
    _session_is_tab_only(console)


# 3. The session


def test_the_session_lives_in_one_tab_and_ends_with_logout(stack: Stack, console: Page) -> None:
    # GIVEN an operator logged in through the dev login
    kit.login(console, "hostile-session", ("operator",))
    expect(console.locator("#nav")).to_be_visible()
    _session_is_tab_only(console)
    # WHEN a second tab of the same browser opens the console
    other = console.context.new_page()
    other.goto("/console/")
    # THEN it is not logged in
    expect(other.get_by_role("heading", name="콘솔 로그인")).to_be_visible()
    other.close()
    # AND logging out clears the token and shows the login
    console.get_by_role("button", name="로그아웃").click()
    expect(console.get_by_role("heading", name="콘솔 로그인")).to_be_visible()
    assert console.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    _session_is_tab_only(console)


def test_an_expired_token_is_the_login_with_a_message(stack: Stack, console: Page) -> None:
    seen = _watch(console)
    # GIVEN an operator whose token ran out a moment ago
    _enter(console, _issuer(stack).mint("hostile-late", roles=["operator"], lifetime_s=-5))
    # WHEN they open the alerts page
    console.goto("/console/#/alerts")
    # THEN they are at the login, told why (a notice that stays until they sign in), with the
    # token gone and nothing asked
    expect(console.get_by_role("heading", name="콘솔 로그인")).to_be_visible()
    expect(console.get_by_role("alert").filter(has_text="로그인이 만료되었습니다")).to_be_visible()
    assert console.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert seen.requests == []
    # AND a token that runs out while the page is open ends at the login too
    lifetime = 6  # long enough for the alerts page to open on a loaded machine
    runs_out = time.monotonic() + lifetime
    _enter(console, _issuer(stack).mint("hostile-late", roles=["operator"], lifetime_s=lifetime))
    _visit(console, "#/alerts")
    time.sleep(max(0.0, runs_out - time.monotonic()) + 1.2)  # JWT times are whole seconds
    _visit(console, "#/city")
    expect(console.get_by_role("heading", name="콘솔 로그인")).to_be_visible()
    expect(console.get_by_role("alert").filter(has_text="로그인이 만료되었습니다")).to_be_visible()
    _session_is_tab_only(console)


def test_a_tampered_token_gets_the_apis_401_and_the_login(stack: Stack, console: Page) -> None:
    seen = _watch(console)
    issuer = _issuer(stack)
    # GIVEN an operator's token whose claims were edited to add the admin group (the
    # signature no longer matches), and one whose signature is simply broken
    real = issuer.mint("hostile-tamper", roles=["operator"])
    header, _claims, signature = real.split(".")
    forged = issuer.mint("hostile-tamper", roles=["operator", "admin"]).split(".")[1]
    for token in (f"{header}.{forged}.{signature}", real[:-6] + "AAAAAA"):
        _enter(console, token)
        # WHEN they open the payouts page
        console.goto("/console/#/alerts")
        # THEN the API refuses it (401), and the console drops it for the login, with a word
        expect(console.get_by_role("heading", name="콘솔 로그인")).to_be_visible()
        expect(
            console.get_by_role("alert").filter(has_text="로그인이 만료되었습니다")
        ).to_be_visible()
        assert console.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert {status for status, _url in seen.answers} == {401}
    _session_is_tab_only(console)


# 4. The hosted login (AWS mode), against a stand-in for Cognito


@dataclass
class Hosted:
    url: str
    login: HostedLogin


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[Hosted]:
    """The console served as in AWS (Cognito's hosted login) on a local server of its own,
    with a stand-in for Cognito on another port (another origin)."""
    issuer = ensure_issuer(tmp_path)
    login = HostedLogin("console-client", lambda: issuer.mint("kim-hosted", roles=["operator"]))
    login.start()
    holder: dict[str, ConsoleHost] = {}

    class Handler(kit.QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            status, headers, body = holder["host"].handle(
                self.command, self.path, self.rfile.read(length) if length else None
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _answer

    try:
        with kit.serving(Handler) as base:
            holder["host"] = ConsoleHost(
                issuer,
                auth={"mode": "cognito", "domain": login.url, "client_id": "console-client",
                      "redirect_uri": f"{base}/console/"},
            )  # fmt: skip
            yield Hosted(f"{base}/console/", login)
    finally:
        login.stop()


def test_the_hosted_login_trades_a_pkce_code_once(
    hosted: Hosted, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    went: list[str] = []
    page.on("request", lambda r: went.append(r.url) if r.resource_type == "document" else None)
    # GIVEN the console in AWS mode
    page.goto(hosted.url)
    # WHEN the person logs in with their city account
    page.get_by_role("button", name="김해시 계정으로 로그인").click()
    # THEN they come back logged in, named in the header, the ID token in this tab only
    expect(page.locator("#top .person")).to_have_text("kim-hosted")
    token = page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')")
    assert token and token.count(".") == 2
    _session_is_tab_only(page)
    # AND the console sent an S256 challenge and traded the code with its verifier
    authorize = parse_qs(urlsplit(next(u for u in went if "/oauth2/authorize" in u)).query)
    assert authorize["code_challenge_method"] == ["S256"]
    assert authorize["redirect_uri"] == [hosted.url]
    (exchange,) = hosted.login.exchanges
    assert _s256(exchange["code_verifier"]) == authorize["code_challenge"][0]
    back = parse_qs(
        urlsplit(next(u for u in went if "code=" in u and u.startswith(hosted.url))).query
    )
    assert back["state"] == authorize["state"]
    # AND the code left the address bar
    assert "code=" not in page.url
    # WHEN the same code comes back again (a replay), with the same state and verifier
    pending = {"verifier": exchange["code_verifier"], "state": back["state"][0], "back": ""}
    page.evaluate(f"() => sessionStorage.removeItem('{TOKEN_KEY}')")
    page.evaluate(
        "(p) => sessionStorage.setItem('gimhae.console.pkce', JSON.stringify(p))", pending
    )
    page.goto(f"{hosted.url}?code={back['code'][0]}&state={back['state'][0]}")
    # THEN the token endpoint refuses it and the person is at the login, told so
    expect(page.get_by_text("로그인하지 못했습니다").first).to_be_attached()
    expect(page.get_by_role("button", name="김해시 계정으로 로그인")).to_be_visible()
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert len(hosted.login.exchanges) == 2


def test_the_hosted_login_refuses_a_wrong_state_and_logs_out_at_cognito(
    hosted: Hosted, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    # GIVEN a login under way (a verifier and state kept in this tab)
    page.goto(hosted.url)
    pending = {"verifier": "v" * 43, "state": "the-right-state", "back": ""}
    page.evaluate(
        "(p) => sessionStorage.setItem('gimhae.console.pkce', JSON.stringify(p))", pending
    )
    # WHEN the browser comes back with another state (a forged redirect)
    page.goto(f"{hosted.url}?code=forged&state=another-state")
    # THEN no code is traded, no token kept, and the person is told
    expect(page.get_by_text("로그인하지 못했습니다").first).to_be_attached()
    assert hosted.login.exchanges == []
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert "forged" not in page.url
    # GIVEN a proper login
    page.get_by_role("button", name="김해시 계정으로 로그인").click()
    expect(page.locator("#top .person")).to_have_text("kim-hosted")
    # WHEN they log out
    page.get_by_role("button", name="로그아웃").click()
    # THEN the stand-in's /logout saw the client and sent them back to the console's login
    expect(page.get_by_role("button", name="김해시 계정으로 로그인")).to_be_visible()
    assert hosted.login.logouts == [{"client_id": "console-client", "logout_uri": hosted.url}]
    assert page.evaluate(f"() => sessionStorage.getItem('{TOKEN_KEY}')") is None
    _session_is_tab_only(page)


# 5. The local console host over HTTP (the gateway in front of ConsoleHost)


def test_the_console_host_answers_hostile_requests_with_json_errors(stack: Stack) -> None:
    def ask(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, str]:
        request = urllib.request.Request(stack.api_url + path, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:
                return answer.status, answer.read(), answer.headers.get("content-type", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get("content-type", "")

    for method, path, body in (
        ("GET", "/console/" + "a" * 300, None),  # a name too long for the file system
        ("GET", "/console/%2e%2e/app.py", None),
        ("GET", "/console/..%5capp.py", None),
        ("GET", "/console/%00", None),
        ("HEAD", "/console/" + "b" * 300, None),
        ("POST", "/console/dev-login", b"[" * 2000 + b"]" * 2000),
        ("POST", "/console/dev-login", b'{"sub": "x", "roles": ["root"]}'),
        ("POST", "/console/dev-login", b"x" * 65_536),
        ("DELETE", "/console/index.html", None),
    ):
        status, answer, kind = ask(method, path, body)
        assert 400 <= status < 500, (method, path[:40], status)
        if method != "HEAD":
            assert kind == "application/json" and json.loads(answer)["error"]["message"]
