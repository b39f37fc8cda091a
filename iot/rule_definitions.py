"""Topic-rule definitions, one JSON file each under iot/rules/: the one source for AWS IoT
and the local rule engine (infra/local/rule_engine.py, its SQL in infra/local/iot_sql.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RULES_DIR = Path(__file__).parent / "rules"


@dataclass(frozen=True)
class RuleAction:
    """Where a rule delivers: `sqs` (a logical queue name from the app) or `lambda`."""

    kind: str
    target: str


@dataclass(frozen=True)
class TopicRule:
    name: str
    sql: str
    actions: tuple[RuleAction, ...]
    error_action: RuleAction | None
    description: str = ""
    sql_version: str = "2016-03-23"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _action(spec: dict[str, Any]) -> RuleAction:
    ((kind, body),) = spec.items()
    target = body.get("queue") or body.get("function")
    if not target:
        raise ValueError(f"rule action {spec!r} names no queue or function")
    return RuleAction(kind=kind, target=target)


def load_rules(city: str, rules_dir: Path = RULES_DIR) -> list[TopicRule]:
    """Every rule, with `${city}` substituted in its SQL."""
    rules = []
    for path in sorted(rules_dir.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        rules.append(
            TopicRule(
                name=spec["ruleName"],
                sql=spec["sql"].replace("${city}", city),
                actions=tuple(_action(a) for a in spec["actions"]),
                error_action=_action(spec["errorAction"]) if spec.get("errorAction") else None,
                description=spec.get("description", ""),
                sql_version=spec.get("awsIotSqlVersion", "2016-03-23"),
                raw=spec,
            )
        )
    return rules
