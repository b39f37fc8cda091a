"""Cognito: who citizens and city staff are. The API's own JWT authorizer (chalicelib/tokens.py)
validates the pool's tokens, so the pool hands it the issuer, JWKS URL and audience."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from chalicelib import config
from chalicelib.domain import roles
from infra.cdk.stage import Stage

ROLE_DESCRIPTIONS = {
    roles.ADMIN: "City administrators: every staff power",
    roles.OPERATOR: "Operators: devices, alerts, purifier control, quarantine, dead letters, stats",
    roles.FINANCE: "Finance: payout runs, approving corrections, audit, reports, stats",
    roles.SUPPORT: "Support: citizen look-up, ledgers, correction proposals, quarantine (read)",
}


class UserPool(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        self.pool = cognito.UserPool(
            self,
            "Pool",
            user_pool_name=f"{stage.prefix}-users",
            self_sign_up_enabled=True,
            # Email only: SMS would need a role that may publish to any phone number.
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(min_length=10),
            deletion_protection=stage.is_production,
            removal_policy=(
                cdk.RemovalPolicy.RETAIN if stage.is_production else cdk.RemovalPolicy.DESTROY
            ),
        )
        # One group per staff role (DESIGN §4b); a person may be in several.
        self.groups = {
            role: cognito.CfnUserPoolGroup(
                self,
                f"{role.capitalize()}Group",
                user_pool_id=self.pool.user_pool_id,
                group_name=role,
                description=ROLE_DESCRIPTIONS[role],
            )
            for role in roles.ROLES
        }
        self.client = self.pool.add_client(
            "AppClient",
            user_pool_client_name=f"{stage.prefix}-app",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
        )

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{cdk.Aws.REGION}.amazonaws.com/{self.pool.user_pool_id}"

    def authorizer_environment(self) -> dict[str, str]:
        """What chalicelib.tokens needs to validate this pool's ID tokens."""
        return {
            config.JWT_ISSUER: self.issuer,
            config.JWKS_URL: f"{self.issuer}/.well-known/jwks.json",
            config.JWT_AUDIENCE: self.client.user_pool_client_id,
        }
