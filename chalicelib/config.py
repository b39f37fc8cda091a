"""Configuration: the one reader of the environment, and the one place its defaults are written.

`Settings` holds every value a stage can set; the wiring (chalicelib.wiring) builds it once
per container and hands each adapter and service what it needs. `.chalice/config.json`
sets only what differs from these defaults (tests/unit/test_config.py keeps it so); the CDK
app and the local stack read a stage's block through `Settings.from_env` as well
(infra/stage.py). Business rules (rates, limits) are configuration (DESIGN §5).

A few values are needed before any container exists: resource names for Chalice's
decorators at import (queues, streams) and for the infra, which names several stages in
one process. `resource_prefix()`, `region()` and `variable()` read those per call, through
the same reader and with the same defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.domain.phone_proofs import ProofRules

# The stage and where its resources live: every table, queue, topic and bucket is
# `<prefix>-<logical>`, derived when used (dynamodb_models, queues, streams).
CITY = "CITY"
STAGE = "STAGE"
RESOURCE_PREFIX = "RESOURCE_PREFIX"
AWS_REGION = "AWS_REGION"
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
IOT_DATA_ENDPOINT = "IOT_DATA_ENDPOINT"
ALERTS_TOPIC_ARN = "ALERTS_TOPIC_ARN"
PAYOUT_KMS_KEY_ID = "PAYOUT_KMS_KEY_ID"
PUSH_FCM_APPLICATION_ARN = "PUSH_FCM_APPLICATION_ARN"
PUSH_APNS_APPLICATION_ARN = "PUSH_APNS_APPLICATION_ARN"

# Recycling.
POINTS_PER_ITEM = "POINTS_PER_ITEM"
DAILY_ITEM_LIMIT = "DAILY_ITEM_LIMIT"
DEPOSIT_CODE_TTL_SECONDS = "DEPOSIT_CODE_TTL_SECONDS"
DEPOSIT_CODES_PER_WINDOW = "DEPOSIT_CODES_PER_WINDOW"
DEPOSIT_MAX_AHEAD_SECONDS = "DEPOSIT_MAX_AHEAD_SECONDS"
DEPOSIT_MAX_BEHIND_SECONDS = "DEPOSIT_MAX_BEHIND_SECONDS"

# Payouts.
PAYOUT_THRESHOLD = "PAYOUT_THRESHOLD"

# Walking.
MAX_STEPS_PER_DAY = "MAX_STEPS_PER_DAY"
STEP_SYNC_DAYS_BACK = "STEP_SYNC_DAYS_BACK"

# Shelters and robots.
DEVICE_SILENT_SECONDS = "DEVICE_SILENT_SECONDS"
AIR_CLEAR_SECONDS = "AIR_CLEAR_SECONDS"

# Phone numbers.
PHONE_HASH_KEY = "PHONE_HASH_KEY"
PHONE_HASH_KEY_PARAMETER = "PHONE_HASH_KEY_PARAMETER"
PHONE_PROOF_RULES = "PHONE_PROOF_RULES"

# Authentication.
JWT_ISSUER = "JWT_ISSUER"
JWT_AUDIENCE = "JWT_AUDIENCE"
JWKS_URL = "JWKS_URL"
STAFF_JWT_ISSUER = "STAFF_JWT_ISSUER"
STAFF_JWT_AUDIENCE = "STAFF_JWT_AUDIENCE"
STAFF_JWKS_URL = "STAFF_JWKS_URL"

DEFAULT_REGION = "ap-northeast-2"


class _Reader:
    """Reads variables from one environment: empty counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str, default: None = None) -> str | None:
        return self._environ.get(name) or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def number(self, name: str, default: int) -> int:
        raw = self.optional(name)
        return default if raw is None else int(raw)

    def names(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A comma-separated list (`a,b`), blanks dropped."""
        raw = self.optional(name)
        if raw is None:
            return default
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def region(self) -> str:
        return self.optional(AWS_REGION) or self.text(AWS_DEFAULT_REGION, DEFAULT_REGION)

    def json_object(self, name: str, default: dict[str, int]) -> dict[str, int]:
        raw = self.optional(name)
        value = json.loads(raw) if raw else dict(default)
        if not isinstance(value, dict):
            raise ValueError(f"{name}: expected a JSON object")
        return value

    def rates(self, name: str, default: dict[str, int]) -> dict[str, int]:
        """Points per accepted item by material: each a positive whole number (a deposit that
        earns nothing would be no money movement at all)."""
        raw = self.optional(name)
        if raw is None:
            return default
        rates = {str(k): int(v) for k, v in json.loads(raw).items()}
        bad = sorted(k for k, v in rates.items() if v <= 0)
        if bad:
            raise ValueError(f"{name}: rates must be positive ({', '.join(bad)})")
        return rates


_READERS: dict[type, Callable[[_Reader, str, Any], Any]] = {
    str: _Reader.text,
    int: _Reader.number,
    type(None): _Reader.optional,
}


@dataclass(frozen=True)
class Settings:
    """A stage's configuration; each field's default applies when its variable is unset."""

    city: str = "gimhae"
    stage: str = "dev"
    resource_prefix: str = "gimhae-dev"
    aws_endpoint_url: str | None = None
    """An emulator's endpoint (moto locally); botocore honours it by itself."""
    iot_data_endpoint: str | None = None
    """The IoT data plane's host; unset in AWS, where the account's endpoint is asked."""
    alerts_topic_arn: str | None = None
    """The operators' alerts topic (set by the CDK app and the local stack)."""
    payout_kms_key_id: str | None = None
    """The key payout accounts are encrypted with: an id, ARN or alias (set likewise)."""
    push_fcm_application_arn: str | None = None
    """The SNS platform application for FCM (Android) pushes: made by the deployer with
    FCM's credentials and given to the CDK app (infra/cdk/README.md); the local stack makes
    a stand-in. Unset: push to FCM phones is off (tokens are still kept)."""
    push_apns_application_arn: str | None = None
    """Likewise for APNs (iPhone)."""

    points_per_item: dict[str, int] = field(
        default_factory=lambda: {"can": 15, "pet": 10}, metadata={"read": _Reader.rates}
    )
    daily_item_limit: int = 100
    deposit_code_ttl_seconds: int = 300
    deposit_codes_per_window: int = 5
    deposit_max_ahead_seconds: int = 600
    deposit_max_behind_seconds: int = 7 * 24 * 3600

    payout_threshold: int = 2000

    max_steps_per_day: int = 100_000
    step_sync_days_back: int = 7

    device_silent_seconds: int = 300
    """How long a shelter or robot may be silent before it is offline (DESIGN §5)."""
    air_clear_seconds: int = 600
    """How long a shelter's air must stay moderate or better before its air alert clears
    (DESIGN §5: 10 minutes; the e2e stack shortens it)."""

    phone_hash_key: str | None = None
    phone_hash_key_parameter: str | None = None
    phone_proof_rules: dict[str, int] = field(
        default_factory=dict, metadata={"read": _Reader.json_object}
    )
    """Fields of domain.phone_proofs.ProofRules to override, e.g.
    `{"sends_per_citizen_hour": 3}` (the defaults and their reasons are there)."""

    jwt_issuer: str = ""
    """The citizens' token issuer (in AWS the citizens' user pool): its tokens name a
    citizen and never a role, whatever groups they carry."""
    jwt_audience: tuple[str, ...] = field(default=(), metadata={"read": _Reader.names})
    """The citizens' app clients whose tokens the API accepts (JWT_AUDIENCE,
    comma-separated): in AWS the citizens' app."""
    jwks_url: str = ""
    staff_jwt_issuer: str = ""
    """The staff's token issuer (in AWS the staff user pool, MFA required): the only one
    whose tokens' `cognito:groups` are roles, for the clients in STAFF_JWT_AUDIENCE (the
    operators' console). Unset: no token carries a role. The local stack's dev issuer is
    both issuers (infra/local/dev_issuer.py)."""
    staff_jwt_audience: tuple[str, ...] = field(default=(), metadata={"read": _Reader.names})
    staff_jwks_url: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of this process's environment, or of a stage's variables (`environ`).
        Each field is read from the variable named after it (`points_per_item`:
        POINTS_PER_ITEM) when that is set and not empty, else it keeps its default."""
        env = _Reader(os.environ if environ is None else environ)
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            default = getattr(defaults, f.name)
            read = f.metadata.get("read") or _READERS[type(default)]
            values[f.name] = read(env, f.name.upper(), default)
        return cls(**values)

    def proof_rules(self) -> ProofRules:
        """The limits of proving a phone number: the defaults with `phone_proof_rules` over
        them; unknown fields or values that are not positive whole numbers are refused."""
        from chalicelib.domain.phone_proofs import ProofRules

        overrides = self.phone_proof_rules
        known = {f.name for f in fields(ProofRules)}
        bad = sorted(
            k for k, v in overrides.items() if k not in known or not isinstance(v, int) or v <= 0
        )
        if bad:
            raise ValueError(f"{PHONE_PROOF_RULES}: unknown or non-positive {', '.join(bad)}")
        return ProofRules(**overrides)


_DEFAULTS = Settings()


@lru_cache(maxsize=1)
def settings() -> Settings:
    """This container's settings, read once (chalicelib.wiring.clear forgets them)."""
    return Settings.from_env()


# -- Read per call, before any container exists -------------------------------------------


def resource_prefix() -> str:
    return _Reader(os.environ).text(RESOURCE_PREFIX, _DEFAULTS.resource_prefix)


def region() -> str:
    return _Reader(os.environ).region()


def variable(name: str) -> str | None:
    """A variable the infra sets for Chalice's decorators (a stream's ARN), or None."""
    return _Reader(os.environ).optional(name)


# -- Names derived from the prefix --------------------------------------------------------


def resource_name(logical: str, prefix: str | None = None) -> str:
    """A stage's name for a resource: `<prefix>-<logical>`; the prefix is this process's
    stage's unless given (the CDK app names several stages in one process)."""
    return f"{prefix or resource_prefix()}-{logical}"


table_name = resource_name


def alerts_topic_name(prefix: str | None = None) -> str:
    return resource_name("alerts", prefix)


def exports_bucket_name(prefix: str | None = None) -> str:
    return resource_name("exports", prefix)


def data_key_alias(prefix: str | None = None) -> str:
    """The data key's alias, one name for the CDK app (infra/cdk/security.py) and the local
    stack (infra/local/provision.py); the app is told the key by PAYOUT_KMS_KEY_ID."""
    return f"alias/{prefix or resource_prefix()}-data"


# -- Schedules (UTC: Asia/Seoul is UTC+9, no daylight saving) -----------------------------

PAYOUT_SCHEDULE_UTC = "cron(0 18 L * ? *)"
"""The 1st of each month, 03:00 Asia/Seoul, is 18:00 UTC on the last day of the month before."""
AUDIT_SCHEDULE_UTC = "cron(30 18 * * ? *)"
"""Daily, 03:30 Asia/Seoul: after a month's payout run has started."""
RECYCLING_REPORT_SCHEDULE_UTC = "cron(0 19 L * ? *)"
"""The 1st of each month, 04:00 Asia/Seoul: an hour after the payout run, when the ledger's
stream has long counted the month's last credits."""
KPI_SCHEDULE_UTC = "cron(0/15 * * * ? *)"
"""Every quarter of an hour: today's KPIs; the runs at 00:00 and 00:15 Asia/Seoul also
recompute the day before's (chalicelib.domain.kpis.periods_to_compute)."""
