"""The staff routes' contract on the local stack (issue 23): the document it serves at
`/v1/openapi.json` is the one the code generates, and what its staff routes answer over real
HTTP (JSON and the recycling CSV) matches that document, read as a console developer would."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.contract import check_answer
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _get(stack: Stack, path: str, token: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(stack.api_url + path, method="GET")
    request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status, response.headers.get("content-type", ""), response.read()


def test_the_staff_routes_answer_as_the_served_document_says(stack: Stack) -> None:
    from app import app
    from chalicelib.api import openapi

    # GIVEN the document the stack serves: the one the code generates
    status, served = stack.http("GET", "/v1/openapi.json")
    assert status == 200
    generated = openapi.document(app)
    assert served["paths"] == generated["paths"]
    assert served["components"] == generated["components"]

    # WHEN an admin reads the staff views of an idle city
    admin = stack.token("admin-e2e-contract", admin=True)
    month = datetime.now(ZoneInfo("Asia/Seoul")).strftime("%Y-%m")
    paths = [
        "/v1/admin/alerts?status=all",
        "/v1/admin/dead-letters",
        "/v1/admin/stats",
        "/v1/admin/quarantine?source=fleet",
        "/v1/admin/actions?limit=5",
        "/v1/admin/payout-runs",
        "/v1/admin/corrections?status=pending",
        f"/v1/admin/reports/recycling?month={month}",
        f"/v1/admin/reports/recycling/{month}.csv",
    ]
    answered: dict[str, Any] = {}
    for path in paths:
        status, content_type, body = _get(stack, path, admin)
        parsed = json.loads(body) if content_type.startswith("application/json") else None
        # THEN each answer has a declared status, media type and (JSON) shape
        check_answer("GET", path, status, content_type, parsed)
        answered[path] = (status, content_type)
    assert answered[f"/v1/admin/reports/recycling/{month}.csv"] == (
        200,
        "text/csv; charset=utf-8",
    )
    assert all(status == 200 for status, _ in answered.values()), answered
