"""AWS clients, built lazily once per Lambda container (never at import time, never per call).

Plain botocore (what PynamoDB uses too): importing boto3 would add its s3transfer machinery
to every cold start. `AWS_ENDPOINT_URL` (moto locally) is honoured by botocore itself.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

from chalicelib import config

if TYPE_CHECKING:
    from pynamodb.connection import Connection

# What PynamoDB would configure for its own client: no client-side parameter validation
# (the models serialize), bounded timeouts, standard retries; a pool wide enough for the
# local stack's concurrent handlers.
_DYNAMODB = Config(
    parameter_validation=False,
    connect_timeout=5,
    read_timeout=15,
    max_pool_connections=32,
    retries={"mode": "standard", "total_max_attempts": 4},
)


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    """One botocore session per container: service models are loaded once, not per client."""
    return botocore.session.get_session()


@cache
def client(service: str) -> Any:
    options = {"config": _DYNAMODB} if service == "dynamodb" else {}
    return _session().create_client(service, region_name=config.region(), **options)


def share_dynamodb_client(connection: Connection) -> None:
    """Make a PynamoDB connection use the container's DynamoDB client instead of building
    its own (PynamoDB makes a session and a client per connection and per thread)."""
    shared = client("dynamodb")
    if connection._client is not shared:
        connection._client = shared


def pynamodb_connection() -> Connection:
    """A PynamoDB connection (for transactions) on the container's DynamoDB client."""
    from pynamodb.connection import Connection

    connection = Connection(region=config.region())
    share_dynamodb_client(connection)
    return connection


@lru_cache(maxsize=1)
def iot_data() -> Any:
    """The IoT data plane lives at the account's ATS endpoint (asked once) unless configured."""
    settings = config.settings()
    endpoint = settings.iot_data_endpoint
    if endpoint is None and not settings.aws_endpoint_url:
        endpoint = client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    kwargs: dict[str, Any] = {}
    if endpoint:
        kwargs["endpoint_url"] = endpoint if "://" in endpoint else f"https://{endpoint}"
    return _session().create_client("iot-data", region_name=config.region(), **kwargs)


@lru_cache(maxsize=1)
def phone_hash_key() -> bytes:
    """The phone-number hashing key: a stage setting locally, an SSM SecureString in AWS."""
    settings = config.settings()
    if settings.phone_hash_key:
        return settings.phone_hash_key.encode("utf-8")
    if settings.phone_hash_key_parameter:
        response = client("ssm").get_parameter(
            Name=settings.phone_hash_key_parameter, WithDecryption=True
        )
        return str(response["Parameter"]["Value"]).encode("utf-8")
    raise RuntimeError(f"set {config.PHONE_HASH_KEY} or {config.PHONE_HASH_KEY_PARAMETER}")


DRAW_PSEUDONYM_LABEL = b"gimhae/challenge-draw-pseudonyms/v1"


@lru_cache(maxsize=1)
def draw_pseudonym_key() -> bytes:
    """The key of the draws' per-challenge pseudonyms, derived from the phone-hash key
    (HMAC under a label of its own): the same custody (a stage setting locally, an SSM
    SecureString in AWS) and no second secret to provision, yet a pseudonym reveals
    nothing about phone hashes, nor they about it."""
    import hashlib
    import hmac

    return hmac.new(phone_hash_key(), DRAW_PSEUDONYM_LABEL, hashlib.sha256).digest()
