"""A stage's IoT resource names (iot/names.py, with the stage's prefix): shared by the stack
and the device-registration script (which must not need the CDK)."""

from __future__ import annotations

from infra.cdk.stage import Stage
from iot import names
from iot.rule_definitions import TopicRule


def rule_name(stage: Stage, rule: TopicRule) -> str:
    return names.rule_name(rule.name, stage.prefix)


def thing_type_name(stage: Stage, device_type: str) -> str:
    return names.thing_type_name(device_type, stage.prefix)


def thing_group_name(stage: Stage, device_type: str) -> str:
    return names.thing_group_name(device_type, stage.prefix)


def iot_policy_name(stage: Stage, device_type: str) -> str:
    return names.policy_name(device_type, stage.prefix)
