"""The project registry on the shared local stack (DESIGN §4d): the sample loaded at start,
its summary with the seed's counts, its one deliberate duplicate flagged with its reasons,
and the loader run again against the running stack changing nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Stack
from tests.unit.test_projects import SEED_FIELDS

pytestmark = pytest.mark.e2e


def test_the_sample_registry_is_loaded_summarised_and_checked(stack: Stack) -> None:
    # GIVEN the stack as started WHEN anyone asks for the summary (no token)
    status, summary = stack.http("GET", "/v1/projects/summary")
    assert status == 200, summary
    # THEN 45 projects in the seed's 11 fields, with its counts and totals
    assert summary["projects"] == 45
    assert {f["field_name"]: f["projects"] for f in summary["by_field"]} == SEED_FIELDS
    assert {f["funding"]: f["projects"] for f in summary["by_funding"]} == {
        "national": 23,
        "city": 22,
    }
    assert summary["budget_krw"] == 61_800_000_000
    assert {y["year"]: y["budget_krw"] for y in summary["by_year"]}["2020"] == 43_000_000_000

    # AND the deliberately duplicated sample project is flagged, with its four reasons
    status, checks = stack.http("GET", "/v1/projects/overlaps")
    assert status == 200, checks
    pairs = {tuple(p["project_ids"]): p for p in checks["pairs"]}
    pair = pairs[("smart-streetlights", "streetlight-remote-control")]
    assert pair["field"] == "facilities" and pair["field_name"] == "시설물관리"
    reasons = {r["code"]: r for r in pair["reasons"]}
    assert list(reasons) == ["same_field", "districts_overlap", "periods_overlap", "similar_names"]
    assert reasons["districts_overlap"]["districts"] == ["bukbu-dong"]
    assert (reasons["periods_overlap"]["from"], reasons["periods_overlap"]["to"]) == (
        "2020-06-01",
        "2020-12-31",
    )
    assert reasons["similar_names"]["similarity"] == pair["similarity"] == 1.0
    unmeasured = {u["project_id"]: u for u in checks["unmeasured"]}
    assert [r["code"] for r in unmeasured["bus-information-upgrade"]["reasons"]] == [
        "service_not_live"
    ]

    # AND loading the sample again into the running stack changes nothing
    loaded = subprocess.run(
        [sys.executable, "-m", "infra.local", "projects", "load", "--state-dir", stack.state_dir],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {"created": 0, "kept": 45}
