"""Names of a deployment's IoT resources, from its resource prefix (`gimhae-dev`, ...).

The one source for the CDK stack (infra/cdk/iot.py, with its stage's prefix), device
provisioning (iot/provisioning.py, also under infra/cdk/register_device.py) and the local
stack, so a thing's type, group and policy are named alike wherever it is registered.
"""

from __future__ import annotations

import re


def thing_type_name(device_type: str, prefix: str) -> str:
    return f"{prefix}-{device_type}"


def thing_group_name(device_type: str, prefix: str) -> str:
    return f"{prefix}-{device_type}s"


def policy_name(device_type: str, prefix: str = "gimhae") -> str:
    return f"{prefix}-{device_type}-policy"


def rule_name(rule: str, prefix: str) -> str:
    """IoT rule names allow only [A-Za-z0-9_] and are per account: prefixed by the stage."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{prefix}_{rule}")
