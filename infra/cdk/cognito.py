"""Cognito: who citizens and city staff are, in two user pools.

Citizens sign themselves up in the citizens' pool (`<prefix>-users`, the app's client, MFA
optional). City staff are created by an admin in the staff pool (`<prefix>-staff`: the four
groups, the console's client on the pool's own hosted login, MFA required with an
authenticator app, a stronger password policy, threat protection). The API's own JWT
authorizer (chalicelib/tokens.py) trusts both issuers, each for its own client, and reads
roles (`cognito:groups`) only from the staff pool's tokens: a group in the citizens' pool,
whatever its name, grants nothing.

Feature plans, chosen per pool (the citizens' pool is the stack's biggest monthly cost
after Lambda at 200,000 users, bench/RESULTS.md §7): citizens on LITE (sign-up, SRP sign-in,
optional TOTP and the hosted login are all Lite's; nothing of Essentials' is used); staff on
PLUS, for threat protection (compromised credentials, adaptive authentication) and password
history, at 20-odd monthly active users.
"""

from __future__ import annotations

from typing import Any

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

CITIZEN_PLAN = cognito.FeaturePlan.LITE
STAFF_PLAN = cognito.FeaturePlan.PLUS
STAFF_PASSWORD = cognito.PasswordPolicy(
    min_length=14,
    require_lowercase=True,
    require_uppercase=True,
    require_digits=True,
    require_symbols=True,
    password_history_size=12,  # Essentials' and Plus's: no reuse of the last 12
    temp_password_validity=cdk.Duration.days(3),  # the invitation's temporary password
)
# Authenticator app (TOTP) only: SMS would need a role that may publish to any phone number.
TOTP_ONLY = cognito.MfaSecondFactor(sms=False, otp=True)
Risk = cognito.CfnUserPoolRiskConfigurationAttachment


def _pool(scope: Construct, stage: Stage, name: str, **settings: Any) -> cognito.UserPool:
    """What both pools share: sign-in and recovery by e-mail (SMS would need a role that may
    publish to any phone number), TOTP as the only second factor, and in prod kept (deletion
    protection, retained with the stack)."""
    return cognito.UserPool(
        scope,
        "Pool",
        user_pool_name=f"{stage.prefix}-{name}",
        sign_in_aliases=cognito.SignInAliases(email=True),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        mfa_second_factor=TOTP_ONLY,
        deletion_protection=stage.is_production,
        removal_policy=(
            cdk.RemovalPolicy.RETAIN if stage.is_production else cdk.RemovalPolicy.DESTROY
        ),
        **settings,
    )


def _domain(pool: cognito.UserPool, prefix: str) -> cognito.UserPoolDomain:
    """A hosted login on Cognito's own domain; prefixes are global, so the account's id
    makes ours unique."""
    return pool.add_domain(
        "Domain",
        cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{prefix}-{cdk.Aws.ACCOUNT_ID}"),
    )


def _issuer(pool: cognito.UserPool) -> str:
    return f"https://cognito-idp.{cdk.Aws.REGION}.amazonaws.com/{pool.user_pool_id}"


class CitizenPool(Construct):
    """The citizens' pool. Its construct id stays "Users" (the stack's logical ids): a pool
    replaced is every citizen's account lost."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        self.pool = _pool(
            self,
            stage,
            "users",
            feature_plan=CITIZEN_PLAN,
            self_sign_up_enabled=True,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(min_length=10),
            # Offered, not required: required would make each of 200,000 citizens set up an
            # authenticator app. Staff have their own pool, where it is required.
            mfa=cognito.Mfa.OPTIONAL,
        )
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
        # The citizens' hosted login (social sign-in or an app's PKCE flow would use it).
        self.domain = _domain(self.pool, stage.prefix)

    @property
    def issuer(self) -> str:
        return _issuer(self.pool)

    def authorizer_environment(self) -> dict[str, str]:
        """What chalicelib.tokens needs to accept this pool's tokens, for the app's client,
        as a citizen's (no roles)."""
        return {
            config.JWT_ISSUER: self.issuer,
            config.JWKS_URL: f"{self.issuer}/.well-known/jwks.json",
            config.JWT_AUDIENCE: self.client.user_pool_client_id,
        }


class StaffPool(Construct):
    """City staff: created by an admin (no self sign-up), in the four groups, signing in to
    the console on this pool's hosted login with a password and an authenticator app (TOTP),
    which the hosted login has them set up at their first sign-in."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        self.pool = _pool(
            self,
            stage,
            "staff",
            feature_plan=STAFF_PLAN,
            self_sign_up_enabled=False,
            password_policy=STAFF_PASSWORD,
            mfa=cognito.Mfa.REQUIRED,
            # Plus's threat protection, acting: a password found in a breach is refused, a
            # risky sign-in is asked for more or blocked (StaffPool.RiskConfiguration).
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
        )
        Risk(
            self,
            "RiskConfiguration",
            user_pool_id=self.pool.user_pool_id,
            client_id="ALL",
            compromised_credentials_risk_configuration=Risk.CompromisedCredentialsRiskConfigurationTypeProperty(
                actions=Risk.CompromisedCredentialsActionsTypeProperty(event_action="BLOCK"),
                event_filter=["SIGN_IN", "PASSWORD_CHANGE", "SIGN_UP"],
            ),
            # MFA is required anyway, so every level at least asks for it; a high risk is
            # refused. No notification mails (those need SES).
            account_takeover_risk_configuration=Risk.AccountTakeoverRiskConfigurationTypeProperty(
                actions=Risk.AccountTakeoverActionsTypeProperty(
                    low_action=_takeover("MFA_REQUIRED"),
                    medium_action=_takeover("MFA_REQUIRED"),
                    high_action=_takeover("BLOCK"),
                )
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
        self.domain = _domain(self.pool, f"{stage.prefix}-staff")
        self.console_client: cognito.UserPoolClient | None = None
        self._stage = stage

    @property
    def login_url(self) -> str:
        """The hosted login's origin: the console sends staff there and exchanges the code
        for tokens at its /oauth2/token (so the console's CSP allows connecting to it)."""
        return self.domain.base_url()

    @property
    def issuer(self) -> str:
        return _issuer(self.pool)

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

    def authorizer_environment(self) -> dict[str, str]:
        """What chalicelib.tokens needs to accept this pool's tokens, for the console's
        client, with their groups as roles."""
        if self.console_client is None:
            raise RuntimeError("add the console's client first")
        return {
            config.STAFF_JWT_ISSUER: self.issuer,
            config.STAFF_JWKS_URL: f"{self.issuer}/.well-known/jwks.json",
            config.STAFF_JWT_AUDIENCE: self.console_client.user_pool_client_id,
        }


def _takeover(
    action: str,
) -> Risk.AccountTakeoverActionTypeProperty:
    return Risk.AccountTakeoverActionTypeProperty(event_action=action, notify=False)
