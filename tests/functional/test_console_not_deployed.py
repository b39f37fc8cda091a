"""The dev login exists only in the local stack (DESIGN §4e): the app that is deployed has no
route under /console/ (CloudFront serves the files from S3), so nothing deployed can mint a
token, and the console's files are not packaged with the Lambda."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_deployed_app_cannot_mint_a_console_token(api: Any, method: str) -> None:
    api.check_contract = False  # API Gateway's own answer for a path with no route
    answer = api.call(method, "/console/dev-login", body={"sub": "x", "roles": ["admin"]})
    assert answer.status in (403, 404)
    assert "token" not in (answer.body or {})


def test_no_route_of_the_app_lives_under_console() -> None:
    from app import app

    assert not [path for path in app.routes if path.startswith("/console")]
