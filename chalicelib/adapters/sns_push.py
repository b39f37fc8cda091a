"""SNS mobile push: a platform endpoint per registered token, a publish per notification.

The platform applications (FCM, APNs) hold credentials that cannot live in the repository:
the deployer creates them and gives their ARNs to the CDK app (infra/cdk/README.md); the
local stack creates stand-ins on the emulator, whose publishes land in the local outbox
(channel `push`, infra/local/outbox.py). Tokens are never logged.
"""

from __future__ import annotations

from typing import Any, Literal

from chalicelib.adapters import aws_clients

GONE_CODES = frozenset({"EndpointDisabled", "NotFound", "NotFoundException"})
"""What SNS answers when the platform has given up on a token (uninstalled app, expired
token): the endpoint is disabled or gone, and the token is removed."""


class SnsPush:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _sns(self) -> Any:
        return self._client or aws_clients.client("sns")

    def create_endpoint(self, application_arn: str, token: str) -> str:
        """The token's endpoint (SNS answers the existing one for a token it knows), enabled:
        a token registered again after the platform disabled it is live again."""
        sns = self._sns()
        arn = str(
            sns.create_platform_endpoint(PlatformApplicationArn=application_arn, Token=token)[
                "EndpointArn"
            ]
        )
        sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "true"})
        return arn

    def publish(self, endpoint_arn: str, message: str) -> Literal["sent", "gone"]:
        from botocore.exceptions import ClientError

        try:
            self._sns().publish(TargetArn=endpoint_arn, Message=message, MessageStructure="json")
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in GONE_CODES:
                return "gone"
            raise
        return "sent"

    def delete_endpoint(self, endpoint_arn: str) -> None:
        """Idempotent in SNS: deleting an endpoint already gone succeeds."""
        self._sns().delete_endpoint(EndpointArn=endpoint_arn)
