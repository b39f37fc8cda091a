"""The console on the running local stack's API origin: the page and its modules come with
the strict policy, the dev login's token is one the API's authorizer takes, with exactly the
roles chosen (the API itself still decides what they may do)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from infra.console_site import content_security_policy
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _fetch(stack: Stack, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        stack.api_url + path, data=body, method="POST" if body else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_the_console_is_served_on_the_apis_origin_with_its_policy(stack: Stack) -> None:
    status, headers, page = _fetch(stack, "/console/")
    assert status == 200 and b'<script type="module" src="js/main.js">' in page
    assert headers["Content-Security-Policy"] == content_security_policy()
    status, headers, _module = _fetch(stack, "/console/js/main.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, _, config = _fetch(stack, "/console/config.json")
    assert json.loads(config)["auth"] == {"mode": "dev"}


def test_a_dev_login_token_is_taken_by_the_api_for_exactly_its_roles(stack: Stack) -> None:
    body = json.dumps({"sub": "console-e2e-support", "roles": ["support"]}).encode()
    status, _, answer = _fetch(stack, "/console/dev-login", body)
    assert status == 200
    token = json.loads(answer)["token"]

    status, quarantine = stack.http("GET", "/v1/admin/quarantine", token=token)
    assert status == 200 and "items" in quarantine
    status, refused = stack.http("GET", "/v1/admin/payout-runs", token=token)
    assert status == 403 and refused["error"]["code"] == "forbidden_role"
