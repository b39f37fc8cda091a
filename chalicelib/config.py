"""Configuration from the environment: every variable name lives here, read once per container.

`.chalice/config.json` sets these per stage; resource names derive from the stage's prefix,
so the CDK app and the local stack read them from here too. Business rules (rates, limits)
are configuration (DESIGN §5), their defaults written once, in `Settings`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

# Resource names: every table, queue, topic and bucket is `<prefix>-<logical>`, derived
# when used (chalicelib.adapters.dynamodb_models, chalicelib.queues, chalicelib.streams).
RESOURCE_PREFIX = "RESOURCE_PREFIX"

# Behaviour.
CITY = "CITY"
STAGE = "STAGE"
POINTS_PER_ITEM = "POINTS_PER_ITEM"
DAILY_ITEM_LIMIT = "DAILY_ITEM_LIMIT"
DEPOSIT_CODE_TTL_SECONDS = "DEPOSIT_CODE_TTL_SECONDS"
DEPOSIT_CODES_PER_WINDOW = "DEPOSIT_CODES_PER_WINDOW"
DEPOSIT_MAX_AHEAD_SECONDS = "DEPOSIT_MAX_AHEAD_SECONDS"
DEPOSIT_MAX_BEHIND_SECONDS = "DEPOSIT_MAX_BEHIND_SECONDS"
PAYOUT_THRESHOLD = "PAYOUT_THRESHOLD"
MAX_STEPS_PER_DAY = "MAX_STEPS_PER_DAY"
STEP_SYNC_DAYS_BACK = "STEP_SYNC_DAYS_BACK"
PHONE_HASH_KEY = "PHONE_HASH_KEY"
PHONE_HASH_KEY_PARAMETER = "PHONE_HASH_KEY_PARAMETER"
IOT_DATA_ENDPOINT = "IOT_DATA_ENDPOINT"

# Authentication.
JWT_ISSUER = "JWT_ISSUER"
JWT_AUDIENCE = "JWT_AUDIENCE"
JWKS_URL = "JWKS_URL"
ADMIN_GROUP = "ADMIN_GROUP"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def resource_prefix() -> str:
    return _env(RESOURCE_PREFIX, "gimhae-dev")


def resource_name(logical: str, prefix: str | None = None) -> str:
    """A stage's name for a resource: `<prefix>-<logical>`; the prefix is this process's
    stage's unless given (the CDK app names several stages in one process)."""
    return f"{prefix or resource_prefix()}-{logical}"


table_name = resource_name


def region() -> str:
    return os.environ.get("AWS_REGION") or _env("AWS_DEFAULT_REGION", "ap-northeast-2")


@dataclass(frozen=True)
class Settings:
    city: str = "gimhae"
    stage: str = "dev"
    points_per_item: dict[str, int] = field(default_factory=lambda: {"can": 15, "pet": 10})
    daily_item_limit: int = 100
    deposit_code_ttl_seconds: int = 300
    deposit_codes_per_window: int = 5
    deposit_max_ahead_seconds: int = 600
    deposit_max_behind_seconds: int = 7 * 24 * 3600
    payout_threshold: int = 2000
    max_steps_per_day: int = 100_000
    step_sync_days_back: int = 7
    phone_hash_key: str | None = None
    phone_hash_key_parameter: str | None = None
    iot_data_endpoint: str | None = None
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwks_url: str = ""
    admin_group: str = "admin"

    @classmethod
    def from_env(cls) -> Settings:
        """The stage's settings: each variable when set, else the default above."""
        d = cls()
        rates = os.environ.get(POINTS_PER_ITEM)
        return cls(
            city=_env(CITY, d.city),
            stage=_env(STAGE, d.stage),
            points_per_item=_rates(rates) if rates else d.points_per_item,
            daily_item_limit=_int(DAILY_ITEM_LIMIT, d.daily_item_limit),
            deposit_code_ttl_seconds=_int(DEPOSIT_CODE_TTL_SECONDS, d.deposit_code_ttl_seconds),
            deposit_codes_per_window=_int(DEPOSIT_CODES_PER_WINDOW, d.deposit_codes_per_window),
            deposit_max_ahead_seconds=_int(DEPOSIT_MAX_AHEAD_SECONDS, d.deposit_max_ahead_seconds),
            deposit_max_behind_seconds=_int(
                DEPOSIT_MAX_BEHIND_SECONDS, d.deposit_max_behind_seconds
            ),
            payout_threshold=_int(PAYOUT_THRESHOLD, d.payout_threshold),
            max_steps_per_day=_int(MAX_STEPS_PER_DAY, d.max_steps_per_day),
            step_sync_days_back=_int(STEP_SYNC_DAYS_BACK, d.step_sync_days_back),
            phone_hash_key=os.environ.get(PHONE_HASH_KEY) or None,
            phone_hash_key_parameter=os.environ.get(PHONE_HASH_KEY_PARAMETER) or None,
            iot_data_endpoint=os.environ.get(IOT_DATA_ENDPOINT) or None,
            jwt_issuer=_env(JWT_ISSUER, d.jwt_issuer),
            jwt_audience=_env(JWT_AUDIENCE, d.jwt_audience),
            jwks_url=_env(JWKS_URL, d.jwks_url),
            admin_group=_env(ADMIN_GROUP, d.admin_group),
        )


def _rates(raw: str) -> dict[str, int]:
    """Points per accepted item by material: each a positive whole number (a deposit that
    earns nothing would be no money movement at all)."""
    rates = {str(k): int(v) for k, v in json.loads(raw).items()}
    bad = sorted(k for k, v in rates.items() if v <= 0)
    if bad:
        raise ValueError(f"{POINTS_PER_ITEM}: rates must be positive ({', '.join(bad)})")
    return rates


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


# Set by the CDK app for what the next capabilities will publish, store and encrypt to.
ALERTS_TOPIC_ARN = "ALERTS_TOPIC_ARN"
PAYOUT_KMS_KEY_ID = "PAYOUT_KMS_KEY_ID"


def alerts_topic_name(prefix: str | None = None) -> str:
    return resource_name("alerts", prefix)


def exports_bucket_name(prefix: str | None = None) -> str:
    return resource_name("exports", prefix)


# Shelters and robots: how long a device may be silent before it is offline (DESIGN §5).
DEVICE_SILENT_SECONDS = "DEVICE_SILENT_SECONDS"


def device_silent_seconds() -> int:
    return _int(DEVICE_SILENT_SECONDS, 300)


# Payouts (issue 10): the data key's alias is one name for the CDK app (infra/cdk/security.py)
# and the local stack (infra/local/provision.py); the app is told the key by PAYOUT_KMS_KEY_ID.
PAYOUT_SCHEDULE_UTC = "cron(0 18 L * ? *)"
"""The 1st of each month, 03:00 Asia/Seoul (UTC+9, no daylight saving), is 18:00 UTC on the
last day of the month before."""
AUDIT_SCHEDULE_UTC = "cron(30 18 * * ? *)"
"""Daily, 03:30 Asia/Seoul: after a month's payout run has started."""


def data_key_alias(prefix: str | None = None) -> str:
    return f"alias/{prefix or resource_prefix()}-data"


def payout_kms_key_id() -> str | None:
    """The key payout accounts are encrypted with (an id, ARN or alias)."""
    return os.environ.get(PAYOUT_KMS_KEY_ID) or None


# Stats and reports.
RECYCLING_REPORT_SCHEDULE_UTC = "cron(0 19 L * ? *)"
"""The 1st of each month, 04:00 Asia/Seoul: an hour after the payout run, when the ledger's
stream has long counted the month's last credits."""


# Phone numbers proven by SMS code (issue 20): the limits, as configuration (defaults and
# their reasons in chalicelib.domain.phone_proofs.ProofRules).
PHONE_PROOF_RULES = "PHONE_PROOF_RULES"

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from chalicelib.domain.phone_proofs import ProofRules


def phone_proof_rules() -> ProofRules:
    """`PHONE_PROOF_RULES` is a JSON object of ProofRules fields to override, e.g.
    `{"sends_per_citizen_hour": 3}`; unknown fields or non-positive values are refused."""
    from dataclasses import fields

    from chalicelib.domain.phone_proofs import ProofRules

    raw = os.environ.get(PHONE_PROOF_RULES)
    overrides = json.loads(raw) if raw else {}
    known = {f.name for f in fields(ProofRules)}
    bad = sorted(
        k for k, v in overrides.items() if k not in known or not isinstance(v, int) or v <= 0
    )
    if bad:
        raise ValueError(f"{PHONE_PROOF_RULES}: unknown or non-positive {', '.join(bad)}")
    return ProofRules(**overrides)
