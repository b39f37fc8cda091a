"""A deployment stage for the CDK app: its configuration (infra/stage.py) and the names of
its resources, derived by the app's own functions."""

from __future__ import annotations

from functools import cached_property

from infra.cdk.names import StageNames, resolve
from infra.stage import STAGES, StageConfig

__all__ = ["STAGES", "Stage"]


class Stage(StageConfig):
    @cached_property
    def names(self) -> StageNames:
        return resolve(self.prefix)
