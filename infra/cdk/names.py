"""Resource names as the app itself resolves them under a stage's environment.

The app computes names at import time from environment variables (chalicelib.config), so the
names a stage will use are found by importing the app's sources in a child process with that
stage's variables set. The infra never re-implements the naming rule, so it cannot drift.

Run directly (`python -m infra.cdk.names`) it prints the names for the current environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StageNames:
    tables: dict[str, str]
    """Model key (module.qualname) -> table name."""
    queues: dict[str, tuple[str, str]]
    """Queue logical name -> (queue name, DLQ name)."""
    alerts_topic: str


def model_key(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def _current() -> dict[str, Any]:
    from chalicelib import config, queues
    from chalicelib.adapters.dynamodb_models import ALL_MODELS

    return {
        "tables": {model_key(m): m.Meta.table_name for m in ALL_MODELS},
        "queues": {q.logical: [q.name, q.dlq_name] for q in queues.ALL_QUEUES},
        "alerts_topic": config.alerts_topic_name(),
    }


def resolve(stage_env: Mapping[str, str]) -> StageNames:
    """Names under `stage_env` (a stage's `environment_variables`), from a fresh interpreter."""
    # Only the stage's variables: a developer's shell must not change what gets deployed.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
    env = {**base, **stage_env, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "infra.cdk.names"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out)
    return StageNames(
        tables=dict(data["tables"]),
        queues={k: (v[0], v[1]) for k, v in data["queues"].items()},
        alerts_topic=data["alerts_topic"],
    )


if __name__ == "__main__":
    print(json.dumps(_current()))
