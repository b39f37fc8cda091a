"""Names of a stage's IoT resources: shared by the stack and the device-registration script
(which must not need the CDK)."""

from __future__ import annotations

import re

from infra.cdk.stage import Stage
from iot import policies
from iot.rules import TopicRule


def rule_name(stage: Stage, rule: TopicRule) -> str:
    """IoT rule names allow only [A-Za-z0-9_] and are per account: prefix them with the stage."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{stage.prefix}_{rule.name}")


def thing_type_name(stage: Stage, device_type: str) -> str:
    return f"{stage.prefix}-{device_type}"


def thing_group_name(stage: Stage, device_type: str) -> str:
    return f"{stage.prefix}-{device_type}s"


def iot_policy_name(stage: Stage, device_type: str) -> str:
    return policies.policy_name(device_type, stage.prefix)
