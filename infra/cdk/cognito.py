"""Cognito: who citizens and city staff are. The API's own JWT authorizer (chalicelib/tokens.py)
validates the pool's tokens, so the pool hands it the issuer, JWKS URL and audiences: the
citizens' app client and the operators' console's client (Cognito's hosted login on the
pool's domain, authorization code with PKCE)."""

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
            # MFA is the pool's, and citizens share it: optional, with an authenticator app
            # (TOTP) as the only second factor (SMS would need the any-number role). This
            # does not yet make staff use it: that takes a staff pool of its own with MFA
            # required (docs/production.md, "Staff and MFA").
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
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
            # The app signs in with SRP: no hosted-login flow (CDK's default is implicit
            # and code grants back to example.com, live once the pool has a domain).
            disable_o_auth=True,
        )
        # The hosted login's domain: prefixes are global, so the account makes it ours.
        self.domain = self.pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=f"{stage.prefix}-{cdk.Aws.ACCOUNT_ID}"
            ),
        )
        self.console_client: cognito.UserPoolClient | None = None
        self._stage = stage

    @property
    def login_url(self) -> str:
        """The hosted login's origin: the console sends staff there and exchanges the code
        for tokens at its /oauth2/token (so the console's CSP allows connecting to it)."""
        return self.domain.base_url()

    def add_console_client(self, redirect_uri: str) -> cognito.UserPoolClient:
        """The console's client: public (no secret: the page cannot keep one), the
        authorization code grant only (Cognito requires PKCE of a public client that sends
        a code_challenge; the console always does), back to the console and nowhere else."""
        client = self.pool.add_client(
            "ConsoleClient",
            user_pool_client_name=f"{self._stage.prefix}-console",
            generate_secret=False,
            prevent_user_existence_errors=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[
                    cognito.OAuthScope.OPENID,
                    cognito.OAuthScope.EMAIL,
                    cognito.OAuthScope.PROFILE,
                ],
                callback_urls=[redirect_uri],
                logout_urls=[redirect_uri],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            # an operator's shift, then sign in again
            refresh_token_validity=cdk.Duration.hours(12),
        )
        # Sign-in happens on the hosted login only: no password or SRP flow through the API.
        resource = client.node.default_child
        if isinstance(resource, cognito.CfnUserPoolClient):
            resource.explicit_auth_flows = ["ALLOW_REFRESH_TOKEN_AUTH"]
        self.console_client = client
        return client

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{cdk.Aws.REGION}.amazonaws.com/{self.pool.user_pool_id}"

    def authorizer_environment(self) -> dict[str, str]:
        """What chalicelib.tokens needs to validate this pool's tokens: from the app's client,
        and from the console's once it has one."""
        clients = [c for c in (self.client, self.console_client) if c is not None]
        return {
            config.JWT_ISSUER: self.issuer,
            config.JWKS_URL: f"{self.issuer}/.well-known/jwks.json",
            config.JWT_AUDIENCE: ",".join(c.user_pool_client_id for c in clients),
        }
