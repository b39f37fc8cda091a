"""A deployment stage: its settings in `.chalice/config.json` and the names the app derives."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from infra.cdk.names import ROOT, StageNames, resolve

CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
STAGES = ("dev", "prod")


@dataclass(frozen=True)
class Stage:
    name: str
    settings: dict[str, Any]
    """The stage's block in .chalice/config.json."""

    @classmethod
    def load(cls, name: str) -> Stage:
        config = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
        try:
            return cls(name, config["stages"][name])
        except KeyError as e:
            raise SystemExit(f"no stage {name!r} in {CHALICE_CONFIG}") from e

    @property
    def env(self) -> dict[str, str]:
        return dict(self.settings.get("environment_variables", {}))

    @property
    def is_production(self) -> bool:
        return self.name == "prod"

    @property
    def prefix(self) -> str:
        return self.env.get("RESOURCE_PREFIX", f"gimhae-{self.name}")

    @property
    def city(self) -> str:
        return self.env.get("CITY", "gimhae")

    @property
    def admin_group(self) -> str:
        return self.env.get("ADMIN_GROUP", "admin")

    @property
    def phone_hash_key_parameter(self) -> str:
        return self.env.get("PHONE_HASH_KEY_PARAMETER", f"/gimhae/{self.name}/phone-hash-key")

    @cached_property
    def names(self) -> StageNames:
        return resolve(self.prefix)
