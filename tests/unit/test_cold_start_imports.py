"""What `import app` loads: every Lambda function of the app imports it at cold start, so
the rules, adapters and SDKs a function may never use must load only when first used."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

# Loaded at first use, never by `import app`.
LAZY = (
    "boto3",
    "botocore.session",  # Powertools imports the botocore package itself, nothing more
    "botocore.client",
    "pynamodb",
    "pydantic",
    "chalicelib.adapters",
    "chalicelib.services",
    "chalicelib.domain.boards",
    "chalicelib.domain.challenges",
    "chalicelib.domain.payout_accounts",
    "chalicelib.domain.payout_runs",
    "chalicelib.domain.transfer_files",
    "chalicelib.domain.ledger_audit",
    "chalicelib.domain.ledger",
    "chalicelib.domain.totals",
    "chalicelib.domain.fleet",
    "chalicelib.domain.air",
    "chalicelib.api.openapi",
    "chalicelib.api.asyncapi",
    "chalicelib.api.reference",
)


def test_import_app_loads_no_rule_adapter_or_sdk_module() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, json, app; print(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    modules = json.loads(loaded)
    early = sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in LAZY))
    assert early == []
