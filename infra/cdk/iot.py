"""AWS IoT: topic rules from iot/rules, policies from iot/policies, a thing type and a thing
group per device type. Devices themselves are registered with `infra.cdk.register_device`."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk.messaging import Queues
from infra.cdk.stage import Stage
from iot import iot_names, policies
from iot.rule_definitions import RuleAction, TopicRule, load_rules


class Iot(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage, queues: Queues):
        super().__init__(scope, construct_id)
        self._queues = queues
        self.rules: dict[str, iot.CfnTopicRule] = {}
        for rule in load_rules(stage.city):
            self.rules[rule.name] = self._topic_rule(stage, rule)
        self.policies: dict[str, iot.CfnPolicy] = {}
        for device_type in policies.DEVICE_TYPES:
            self.policies[device_type] = iot.CfnPolicy(
                self,
                f"{device_type}-policy",
                policy_name=iot_names.policy_name(device_type, stage.prefix),
                policy_document=policies.policy_document(
                    device_type, stage.city, region=cdk.Aws.REGION, account=cdk.Aws.ACCOUNT_ID
                ),
            )
            iot.CfnThingType(
                self,
                f"{device_type}-type",
                thing_type_name=iot_names.thing_type_name(device_type, stage.prefix),
                thing_type_properties=iot.CfnThingType.ThingTypePropertiesProperty(
                    thing_type_description=f"Gimhae smart city {device_type}"
                ),
            )
            iot.CfnThingGroup(
                self,
                f"{device_type}-group",
                thing_group_name=iot_names.thing_group_name(device_type, stage.prefix),
                thing_group_properties=iot.CfnThingGroup.ThingGroupPropertiesProperty(
                    thing_group_description=f"Every {device_type} of {stage.city}"
                ),
            )

    def _queue(self, action: RuleAction) -> sqs.Queue:
        if action.kind != "sqs":
            raise ValueError(f"rule action kind {action.kind!r} is not supported in AWS yet")
        return self._queues.by_logical[action.target]

    def _topic_rule(self, stage: Stage, rule: TopicRule) -> iot.CfnTopicRule:
        targets = [self._queue(a) for a in rule.actions]
        error_queue = self._queue(rule.error_action) if rule.error_action else None
        role = iam.Role(
            self,
            f"{rule.name}-role",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description=f"IoT rule {rule.name}: send to its queues only",
            inline_policies={
                "send": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["sqs:SendMessage"],
                            resources=[q.queue_arn for q in [*targets, error_queue] if q],
                        )
                    ]
                )
            },
        )

        def sqs_action(queue: sqs.Queue) -> iot.CfnTopicRule.ActionProperty:
            return iot.CfnTopicRule.ActionProperty(
                sqs=iot.CfnTopicRule.SqsActionProperty(
                    queue_url=queue.queue_url, role_arn=role.role_arn, use_base64=False
                )
            )

        return iot.CfnTopicRule(
            self,
            rule.name,
            rule_name=iot_names.rule_name(rule.name, stage.prefix),
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                sql=rule.sql,
                aws_iot_sql_version=rule.sql_version,
                description=rule.description or None,
                rule_disabled=False,
                actions=[sqs_action(q) for q in targets],
                error_action=sqs_action(error_queue) if error_queue else None,
            ),
        )
