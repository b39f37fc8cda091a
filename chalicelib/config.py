"""Configuration from the environment: every variable name lives here, read once per container.

`.chalice/config.json` sets these per stage; the CDK app and the local stack supply the
resource names they create. Business rules (rates, limits) are configuration too (DESIGN §5).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

# Resource names.
CITIZENS_TABLE = "CITIZENS_TABLE"
LEDGER_TABLE = "LEDGER_TABLE"
DEPOSIT_CODES_TABLE = "DEPOSIT_CODES_TABLE"
CITIZEN_DAYS_TABLE = "CITIZEN_DAYS_TABLE"
PROCESSED_EVENTS_TABLE = "PROCESSED_EVENTS_TABLE"
PHONE_LINKS_TABLE = "PHONE_LINKS_TABLE"
DEVICES_TABLE = "DEVICES_TABLE"
QUARANTINE_TABLE = "QUARANTINE_TABLE"
RATE_WINDOWS_TABLE = "RATE_WINDOWS_TABLE"
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


def resource_name(env_name: str, logical: str) -> str:
    """A table or queue name: the stage's explicit setting, else `<prefix>-<logical>`."""
    return _env(env_name, f"{resource_prefix()}-{logical}")


def table_name(logical: str) -> str:
    """A table's name, read when used: `<prefix>-<logical>`."""
    return f"{resource_prefix()}-{logical}"


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
    phone_hash_key: str | None = None
    phone_hash_key_parameter: str | None = None
    iot_data_endpoint: str | None = None
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwks_url: str = ""
    admin_group: str = "admin"

    @classmethod
    def from_env(cls) -> Settings:
        rates = json.loads(_env(POINTS_PER_ITEM, '{"can": 15, "pet": 10}'))
        return cls(
            city=_env(CITY, "gimhae"),
            stage=_env(STAGE, "dev"),
            points_per_item={str(k): int(v) for k, v in rates.items()},
            daily_item_limit=int(_env(DAILY_ITEM_LIMIT, "100")),
            deposit_code_ttl_seconds=int(_env(DEPOSIT_CODE_TTL_SECONDS, "300")),
            deposit_codes_per_window=int(_env(DEPOSIT_CODES_PER_WINDOW, "5")),
            deposit_max_ahead_seconds=int(_env(DEPOSIT_MAX_AHEAD_SECONDS, "600")),
            deposit_max_behind_seconds=int(_env(DEPOSIT_MAX_BEHIND_SECONDS, str(7 * 24 * 3600))),
            phone_hash_key=os.environ.get(PHONE_HASH_KEY) or None,
            phone_hash_key_parameter=os.environ.get(PHONE_HASH_KEY_PARAMETER) or None,
            iot_data_endpoint=os.environ.get(IOT_DATA_ENDPOINT) or None,
            jwt_issuer=_env(JWT_ISSUER, ""),
            jwt_audience=_env(JWT_AUDIENCE, ""),
            jwks_url=_env(JWKS_URL, ""),
            admin_group=_env(ADMIN_GROUP, "admin"),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


ALERTS_TOPIC = "ALERTS_TOPIC"
ALERTS_TOPIC_ARN = "ALERTS_TOPIC_ARN"
EXPORTS_BUCKET = "EXPORTS_BUCKET"
PAYOUT_KMS_KEY_ID = "PAYOUT_KMS_KEY_ID"


def alerts_topic_name() -> str:
    return resource_name(ALERTS_TOPIC, "alerts")


def exports_bucket_name() -> str:
    return resource_name(EXPORTS_BUCKET, "exports")
