"""SNS mobile push: a platform endpoint per registered token, a publish per notification.

The platform applications (FCM, APNs) hold credentials that cannot live in the repository:
the deployer creates them and gives their ARNs to the CDK app (infra/cdk/README.md); the
local stack creates stand-ins on the emulator, whose publishes land in the local outbox
(channel `push`, infra/local/outbox.py). Tokens are never logged.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from chalicelib.adapters import aws_clients

_EXISTING = re.compile(r"Endpoint (arn:[\w:/.-]+) already exists with the same [Tt]oken")
"""How SNS names the endpoint it holds for a token with other attributes."""

GONE_CODES = frozenset({"EndpointDisabled", "NotFound", "NotFoundException"})
"""What SNS answers when the platform has given up on a token (uninstalled app, expired
token): the endpoint is disabled or gone, and the token is removed."""


class SnsPush:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    def _sns(self) -> Any:
        return self._client or aws_clients.client("sns")

    def create_endpoint(self, application_arn: str, token: str) -> str:
        """A new endpoint for the token, enabled. SNS answers the existing one for a token it
        already knows with the same attributes, and refuses (InvalidParameter, naming it)
        one it knows with others, e.g. disabled by the platform: that one is enabled again
        and answered."""
        from botocore.exceptions import ClientError

        try:
            return str(
                self._sns().create_platform_endpoint(
                    PlatformApplicationArn=application_arn,
                    Token=token,
                    Attributes={"Enabled": "true"},
                )["EndpointArn"]
            )
        except ClientError as e:
            error = e.response.get("Error", {})
            known = _EXISTING.search(str(error.get("Message", "")))
            if error.get("Code") != "InvalidParameter" or known is None:
                raise
        existing = known.group(1)
        if not self.enable(existing, token):
            raise RuntimeError("SNS named an endpoint for the token that is gone")
        return existing

    def enable(self, endpoint_arn: str, token: str) -> bool:
        """Enable a known endpoint again for this token (a phone registering again after
        the platform disabled it); False when SNS no longer has it."""
        from botocore.exceptions import ClientError

        try:
            self._sns().set_endpoint_attributes(
                EndpointArn=endpoint_arn, Attributes={"Enabled": "true", "Token": token}
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in GONE_CODES:
                return False
            raise
        return True

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
