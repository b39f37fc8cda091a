"""Who hears the operators' alerts topic by e-mail (alarms and device alerts both go there):
an address given at deploy time, `--parameters AlarmEmail=ops@city.example`, none when empty.
A parameter rather than context: the address is the deployer's to give, not the template's
to carry, and changing it is an update of this one subscription."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from constructs import Construct

ALARM_EMAIL_PARAMETER = "AlarmEmail"


class AlarmEmail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.address = cdk.CfnParameter(
            stack,
            ALARM_EMAIL_PARAMETER,
            type="String",
            default="",
            # an address, or nothing: a typo fails the deploy, not the first alarm
            allowed_pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            description="E-mail address for the operators' alarms and alerts (empty: none)",
        )
        given = cdk.CfnCondition(
            self,
            "Given",
            expression=cdk.Fn.condition_not(
                cdk.Fn.condition_equals(self.address.value_as_string, "")
            ),
        )
        self.subscription = sns.CfnSubscription(
            self,
            "Subscription",
            topic_arn=topic.topic_arn,
            protocol="email",
            endpoint=self.address.value_as_string,
        )
        self.subscription.cfn_options.condition = given
