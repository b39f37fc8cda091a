"""A deployment stage as `.chalice/config.json` declares it: the one reader of that file, for
the CDK app (infra/cdk) and the local stack (infra/local).

The file sets per stage only what differs from the defaults in `chalicelib.config.Settings`
(tests/unit/test_config.py keeps it so); what a stage is configured with is what the app
reads from its variables, through the same `Settings.from_env`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Self

from chalicelib.config import PHONE_HASH_KEY_PARAMETER, Settings

ROOT = Path(__file__).resolve().parents[1]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
STAGES = ("dev", "prod")


def chalice_config() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
    return document


@dataclass(frozen=True)
class StageConfig:
    name: str
    block: dict[str, Any]
    """The stage's block in .chalice/config.json."""
    env: dict[str, str]
    """The variables its functions get, as Chalice merges them: the app's, then the stage's."""

    @classmethod
    def load(cls, name: str) -> Self:
        document = chalice_config()
        try:
            block = document["stages"][name]
        except KeyError as e:
            raise SystemExit(f"no stage {name!r} in {CHALICE_CONFIG}") from e
        env = {
            **document.get("environment_variables", {}),
            **block.get("environment_variables", {}),
        }
        return cls(name, block, env)

    @cached_property
    def settings(self) -> Settings:
        """What the app reads with this stage's variables."""
        return Settings.from_env(self.env)

    @property
    def is_production(self) -> bool:
        return self.name == "prod"

    @property
    def prefix(self) -> str:
        return self.settings.resource_prefix

    @property
    def city(self) -> str:
        return self.settings.city

    @property
    def phone_hash_key_parameter(self) -> str:
        """The SSM parameter holding the phone-hash key (deployed stages keep it there)."""
        parameter = self.settings.phone_hash_key_parameter
        if not parameter:
            raise SystemExit(f"stage {self.name!r}: set {PHONE_HASH_KEY_PARAMETER}")
        return parameter


def stage_environment(name: str = "dev") -> dict[str, str]:
    """The variables a stage's functions get (the local stack runs the dev stage's)."""
    return dict(StageConfig.load(name).env)
