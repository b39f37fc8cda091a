"""An app developer's client, generated from the running stack's own contract: the OpenAPI
document of `GET /v1/openapi.json` goes through `openapi-python-client` (pinned in
requirements-dev.txt) with no warning, and the generated client calls the citizen routes
with typed answers (its own model classes, dates and enums, not dicts)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from enum import Enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Stack, until

pytestmark = pytest.mark.e2e
PACKAGE = "gimhae_smart_city_api_client"
GENERATE_BUDGET_S = 15


def _generate(stack: Stack, into: Path) -> tuple[str, float]:
    """The client as a developer generates it (docs/contracts.md): the document fetched from
    the stack, then the generator, with ruff (its formatter) on PATH."""
    with urllib.request.urlopen(stack.api_url + "/v1/openapi.json", timeout=15) as response:
        document = response.read()
    (into / "openapi.json").write_bytes(document)
    bin_dir = str(Path(sys.executable).parent)
    environment = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json",
         "--output-path", "client"],
        cwd=into, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr, took


def _load(into: Path) -> Any:
    sys.path.insert(0, str(into / "client"))
    try:
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(into / "client"))


def test_a_generated_client_calls_the_citizen_routes_with_typed_answers(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a client generated from the running stack's document
    output, took = _generate(stack, tmp_path)
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines == ["Generating client"], output  # no warning, nothing it could not process
    assert took < GENERATE_BUDGET_S
    _load(tmp_path)
    api = importlib.import_module(f"{PACKAGE}.api.default")
    models = importlib.import_module(f"{PACKAGE}.models")
    # one enum class per value set (no `ListAlertsKind` beside `AlertKind`)
    enums = [v for v in vars(models).values() if isinstance(v, type) and issubclass(v, Enum)]
    value_sets = [frozenset(member.value for member in enum) for enum in enums]
    assert len(set(value_sets)) == len(value_sets), sorted(e.__name__ for e in enums)
    client_module = importlib.import_module(PACKAGE)
    put_me, get_me = (importlib.import_module(f"{api.__name__}.{n}") for n in ("put_me", "get_me"))
    put_steps = importlib.import_module(f"{api.__name__}.put_steps")
    board = importlib.import_module(f"{api.__name__}.get_step_board")
    get_banks = importlib.import_module(f"{api.__name__}.get_banks")
    citizen = client_module.AuthenticatedClient(
        base_url=stack.api_url,
        token=stack.token("e2e-generated-client"),
        raise_on_unexpected_status=True,
    )

    # WHEN a citizen registers, THEN the answer is the generated Profile, typed
    body = models.ProfileRequest(display_name="생성된 시민", district="naeoe-dong")
    profile = put_me.sync(client=citizen, body=body)
    assert isinstance(profile, models.Profile), profile
    assert profile.display_name == "생성된 시민" and profile.district_name == "내외동"
    assert profile.district == models.District.NAEOE_DONG
    assert isinstance(profile.created_at, dt.datetime) and profile.payout_account is None

    # WHEN it syncs today's steps, THEN the stored days come back as dates
    today = dt.datetime.now(ZoneInfo("Asia/Seoul")).date()
    days = models.StepsRequest(days=[models.DayStepsRequest(date=today.isoformat(), steps=4321)])
    stored = put_steps.sync(client=citizen, body=days)
    assert isinstance(stored, models.StoredSteps)
    assert [(d.date, d.steps) for d in stored.days] == [(today, 4321)]

    # THEN its profile and the district's board show them, typed
    me = get_me.sync(client=citizen)
    assert isinstance(me, models.Profile) and me.today_steps == 4321
    standing = until(
        lambda: board.sync(
            client=citizen,
            period=models.Period.DAY,  # the query's value sets are the answers' own
            scope=models.BoardScope.DISTRICTNAEOE_DONG,
        ),
        lambda answer: answer.me.steps == 4321,  # the boards follow the steps' stream
    )
    assert isinstance(standing, models.StepBoard)
    assert standing.scope == models.BoardScope.DISTRICTNAEOE_DONG and standing.date == today
    assert isinstance(standing.me, models.MyStanding) and standing.me.steps == 4321
    assert all(isinstance(e, models.BoardEntry) for e in standing.entries)

    # AND anyone lists the banks without a token
    anyone = client_module.Client(base_url=stack.api_url, raise_on_unexpected_status=True)
    banks = get_banks.sync(client=anyone)
    assert isinstance(banks, models.BankList)
    by_code = {b.code: b for b in banks.banks}
    assert "농협" in by_code["011"].aliases and by_code["092"].name_en == "Toss Bank"
    json.dumps(banks.to_dict(), ensure_ascii=False)  # the models serialise back
