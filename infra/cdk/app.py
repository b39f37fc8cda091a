"""The CDK app: `python -m infra.cdk.app` (or `python infra/cdk/app.py`) from the repository
root synthesizes one stack per stage; `-c stage=prod` synthesizes just that one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import from the repository root, not from here
    _HERE = Path(__file__).resolve().parent
    _ROOT = _HERE.parents[1]
    sys.path[:] = [str(_ROOT)] + [
        p for p in sys.path if Path(p or ".").resolve() not in (_HERE, _ROOT)
    ]

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk

from infra.cdk.stack import GimhaeStack
from infra.cdk.stage import STAGES, Stage


def build(app: cdk.App, stages: tuple[str, ...] | None = None) -> dict[str, GimhaeStack]:
    """One stack per stage. Environment-agnostic unless the CDK CLI names an account."""
    chosen = app.node.try_get_context("stage")
    wanted = stages or ((str(chosen),) if chosen else STAGES)
    env = None
    if os.environ.get("CDK_DEFAULT_ACCOUNT"):
        env = cdk.Environment(
            account=os.environ["CDK_DEFAULT_ACCOUNT"], region=os.environ.get("CDK_DEFAULT_REGION")
        )
    return {name: GimhaeStack(app, Stage.load(name), env=env) for name in wanted}


def main() -> None:
    app = cdk.App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
