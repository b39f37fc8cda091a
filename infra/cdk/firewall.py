"""What stands in front of the API: AWS WAF (a rate-based rule per client IP, then AWS's
managed common rule set) on API Gateway's stage, and the stage's own throttling.

Sizes come from the capacity model (bench/RESULTS.md): Gimhae's busiest minute is ~111 step
syncs a second, each followed by a leaderboard read, so ~220 requests a second at the peak.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.cdk.api import API_STAGE, Api
from infra.cdk.stage import Stage

RATE_LIMIT_CONTEXT = "api_rate_limit_per_ip"
"""`-c api_rate_limit_per_ip=N`: requests one IP may make in 5 minutes before WAF blocks it."""
RATE_LIMIT_PER_IP = 3000
"""10 a second for 5 minutes. A phone makes a handful a session, but Korean carriers put many
phones behind one address (carrier-grade NAT), so the limit stops a script, not a
neighbourhood."""
THROTTLE_CONTEXT = "api_throttle"
"""`-c api_throttle=RATE,BURST`: the stage's steady requests a second and burst."""
THROTTLE = (500, 1000)
"""About twice Gimhae's peak (~220 a second), under the account's 10,000 default."""
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"


def rate_limit(scope: Construct) -> int:
    value = scope.node.try_get_context(RATE_LIMIT_CONTEXT)
    return RATE_LIMIT_PER_IP if value is None else int(value)


def throttle(scope: Construct) -> tuple[int, int]:
    value = scope.node.try_get_context(THROTTLE_CONTEXT)
    if value is None:
        return THROTTLE
    rate, burst = (int(v) for v in str(value).split(","))
    return rate, burst


class Firewall(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage, api: Api) -> None:
        super().__init__(scope, construct_id)
        rate, burst = throttle(self)
        api.rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": rate,
                    "ThrottlingBurstLimit": burst,
                }
            ],
        )
        limit = rate_limit(self)
        self.name = f"{stage.prefix}-api"
        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            name=self.name,
            description="The API - a rate limit per client IP, then the AWS common rule set",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{stage.prefix}-api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=limit,
                            evaluation_window_sec=300,
                        )
                    ),
                    visibility_config=_visibility(f"{stage.prefix}-api-rate-per-ip"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="aws-common",
                    priority=1,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=COMMON_RULE_SET
                        )
                    ),
                    visibility_config=_visibility(f"{stage.prefix}-api-aws-common"),
                ),
            ],
        )
        stack = Stack.of(self)
        self.association = wafv2.CfnWebACLAssociation(
            self,
            "Association",
            web_acl_arn=self.acl.attr_arn,
            resource_arn=stack.format_arn(
                service="apigateway",
                account="",
                resource="/restapis",
                resource_name=f"{api.rest_api.ref}/stages/{API_STAGE}",
            ),
        )
        # SAM makes the stage (RestAPI + the stage's name + Stage) from the API: associate
        # once it exists
        self.association.add_override("DependsOn", [f"RestAPI{API_STAGE}Stage"])

    def blocked_metric(self, period: Duration) -> cloudwatch.Metric:
        """Requests WAF blocked, by any rule."""
        return cloudwatch.Metric(
            namespace="AWS/WAFV2",
            metric_name="BlockedRequests",
            dimensions_map={"WebACL": self.name, "Region": Aws.REGION, "Rule": "ALL"},
            statistic="Sum",
            period=period,
        )


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
