"""Functional tests: the real Chalice app and adapters on moto's in-process `mock_aws`, with
tables and queues provisioned from the same sources as the local stack and AWS."""

from __future__ import annotations

import copy
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.config
import pytest
from chalice.config import Config
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from infra.local.dev_issuer import DevIssuer
from tests import moto_snapshot
from tests.conftest import ROOT
from tests.contract import check_answer

REGION = "ap-northeast-2"
T = TypeVar("T")


def _clear_caches() -> None:
    from chalicelib import wiring

    wiring.clear()


@dataclass(frozen=True)
class Account:
    """The dev stage's account, provisioned once: moto's state, and what the tests and the
    app read about it."""

    snapshot: moto_snapshot.Snapshot
    environment: dict[str, str]  # the streams' ARNs and the data key
    queues: dict[str, Any]
    fleet: dict[str, Any]


@pytest.fixture(scope="session")
def account(issuer: DevIssuer) -> Account:
    """Provision every table, queue, topic, bucket, data key and the fleet's devices once,
    exactly as the local stack does, and save the result."""
    from infra.local import provision

    with mock_aws():
        _clear_caches()
        provision.create_tables()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        environment = provision.stream_environment(dynamodb)
        refs = provision.create_queues(boto3.client("sqs", region_name=REGION))
        fleet = provision.load_fleet()
        provision.register_devices(fleet)
        provision.create_notifications(
            boto3.client("sns", region_name=REGION), boto3.client("s3", region_name=REGION)
        )
        environment.update(
            provision.create_push_applications(boto3.client("sns", region_name=REGION))
        )
        environment["PAYOUT_KMS_KEY_ID"] = provision.create_data_key(
            boto3.client("kms", region_name=REGION)
        )
        saved = moto_snapshot.take()
        _clear_caches()
    return Account(saved, environment, refs, fleet)


@pytest.fixture
def aws(account: Account, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The account just as provisioning left it, for each test: moto's state put back from
    the session's snapshot (items, stream records, messages, objects, sent SMS, publishes,
    shadows, things: everything), its variables set, the app's containers forgotten.
    `mock_aws` is entered per test (~1 ms), so a test that does not ask for the account
    (its own `mock_aws`, an in-process moto server) still finds moto empty."""
    with mock_aws():
        moto_snapshot.restore(account.snapshot)
        for name, value in account.environment.items():
            monkeypatch.setenv(name, value)
        _clear_caches()
        yield {"queues": dict(account.queues), "fleet": copy.deepcopy(account.fleet)}
        _clear_caches()


_PREBUILT: dict[str, tuple[bytes, moto_snapshot.Snapshot, Any]] = {}


@pytest.fixture
def prebuilt(aws: dict[str, Any]) -> Callable[[str, Callable[[], T]], T]:
    """`prebuilt(name, build)`: what `build` makes of the account, built once per test process
    and put back from a snapshot of moto's state in every later test that asks for the same
    name (~40 ms in place of a run's registrations, credits, chunks and approvals: 0.3-1 s
    each). moto's state is everything the app keeps, so a test finds exactly what the build
    left, and `build`'s answer (deep-copied).

    Call it before the test writes anything of its own: the saved state replaces moto's. It
    checks that moto holds exactly what it held when the build ran (the fresh account, or
    what another `prebuilt` put back) and fails the test otherwise (~30 ms). What lives
    outside moto (a service's test clock) is the caller's to put back."""

    def put(name: str, build: Callable[[], T]) -> T:
        before = moto_snapshot.take().state
        saved = _PREBUILT.get(name)
        if saved is None:
            answer = build()
            snapshot = moto_snapshot.take()
            _PREBUILT[name] = (before, snapshot, copy.deepcopy(answer))
            # and on from the saved copy, as every later test goes on: the check above
            # compares moto's state as pickled, and a copy pickles apart from the original
            moto_snapshot.restore(snapshot)
            return answer
        built_on, snapshot, answer = saved
        if before != built_on:
            pytest.fail(
                f"prebuilt({name!r}) was built on another state of moto than this test's: "
                "call it before the test (or a fixture) writes anything of its own",
                pytrace=False,
            )
        moto_snapshot.restore(snapshot)
        return copy.deepcopy(answer)  # type: ignore[no-any-return]

    return put


def published_acks() -> list[tuple[str, dict[str, Any]]]:
    """What the app published through the IoT data plane (moto keeps it)."""
    backend = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [(topic, json.loads(payload)) for topic, payload in backend.published_payloads]


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, Any]
    body: Any


class Api:
    """Calls through the local API Gateway (authorizer, gateway responses) into the app."""

    def __init__(self, issuer: DevIssuer) -> None:
        from app import app
        from infra.local.api_gateway import ApiGateway

        self._issuer = issuer
        self.check_contract = True  # every answer is checked against the OpenAPI document
        # the resilience suite fails AWS calls on purpose: there a 5xx is what Lambda would
        # answer (the app retries it), not a gap in the contract
        self.faults_injected = False
        config = Config.create(chalice_stage="dev", app_name="gimhae-smart-city")
        self._gateway = ApiGateway(app, config)

    def token(self, sub: str, admin: bool = False, roles: tuple[str, ...] = ()) -> str:
        return self._issuer.mint(sub, admin=admin, roles=roles)

    def call(
        self,
        method: str,
        path: str,
        *,
        as_user: str | None = None,
        admin: bool = False,
        roles: tuple[str, ...] = (),
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        from infra.local.api_gateway import request

        sent = {"content-type": "application/json", **(headers or {})}
        if as_user is not None:
            sent["authorization"] = f"Bearer {self.token(as_user, admin, roles)}"
        payload = (
            raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        )
        status, out_headers, out = request(self._gateway, method, path, sent, payload or None)
        text = out.decode("utf-8") if out else ""
        content_type = next(
            (str(v) for k, v in out_headers.items() if k.lower() == "content-type"), ""
        )
        as_json = not content_type or "json" in content_type.lower()
        parsed = (json.loads(text) if as_json else text) if text else None  # HTML, CSV: text
        if self.check_contract and not (status >= 500 and self.faults_injected):
            check_answer(method, path, status, content_type, parsed)
        return ApiResponse(status, out_headers, parsed)


@pytest.fixture
def api(aws: dict[str, Any], issuer: DevIssuer) -> Api:
    return Api(issuer)


def sqs_record(body: dict[str, Any] | str, message_id: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:gimhae-dev-deposits",
        "awsRegion": REGION,
    }


def rule_message(device_id: str, payload: dict[str, Any] | bytes) -> dict[str, Any]:
    """What the robot_deposits topic rule delivers for a robot's publish."""
    import base64

    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {
        "payload": base64.b64encode(raw).decode(),
        "device_id": device_id,
        "client_id": device_id,
        "received_at": int(datetime.now(UTC).timestamp() * 1000),
    }


def deposit(
    event_id: str,
    code: str | None = None,
    *,
    phone: str | None = None,
    can: int = 0,
    pet: int = 0,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    when = occurred_at or datetime.now(UTC)
    citizen = {"code": code} if code is not None else {"phone": phone}
    return {
        "event_id": event_id,
        "citizen": citizen,
        "items": [
            {"material": "can", "accepted": can, "rejected": 0},
            {"material": "pet", "accepted": pet, "rejected": 0},
        ],
        "occurred_at": when.astimezone(timezone_seoul()).isoformat(),
    }


def timezone_seoul() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Seoul")


def invoke_deposits(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Invoke the real SQS handler the way Lambda does, with a batch."""
    from app import handle_deposits
    from infra.local.lambda_runtime import LambdaContext

    result: dict[str, Any] = handle_deposits({"Records": records}, LambdaContext("deposits"))
    return result


__all__ = ["ROOT", "Path", "timedelta"]


def table_stream_event(source: Any) -> dict[str, Any]:
    """Everything the stream of a `chalicelib.streams` source's table holds so far, as the
    Lambda event AWS would deliver (read from the emulator's real stream; Chalice's test
    client has no stream events)."""
    from infra.local.stream_source import stream_event

    client = boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        config=botocore.config.Config(account_id_endpoint_mode="disabled"),
    )
    return stream_event(client, os.environ[source.arn_variable], REGION)


def ledger_stream_event() -> dict[str, Any]:
    """Everything the ledger's stream holds so far, as a Lambda event."""
    from chalicelib import streams

    return table_stream_event(streams.LEDGER_CHANGES)


def invoke_ledger_changes(event: dict[str, Any]) -> dict[str, Any]:
    """Invoke the real stream handler the way Lambda does."""
    from app import handle_ledger_changes
    from infra.local.lambda_runtime import LambdaContext

    result: dict[str, Any] = handle_ledger_changes(event, LambdaContext("ledger-changes"))
    return result


def sent_sms(number: str) -> list[str]:
    """The texts SNS sent to a Korean mobile number (E.164), oldest first (moto keeps them)."""
    from moto.sns.models import sns_backends

    from chalicelib.domain.phone_proofs import e164
    from chalicelib.domain.phones import normalize_mobile

    to = e164(normalize_mobile(number))
    backend = sns_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [text for phone, text in backend.sms_messages.values() if phone == to]


def sms_code(number: str) -> str:
    """The code of the last SMS sent to the number."""
    import re

    texts = sent_sms(number)
    assert texts, "no SMS was sent to this number"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found is not None, "the SMS holds no 6-digit code"
    return found.group(1)


def link_phone(api: Api, citizen_id: str, number: str) -> dict[str, Any]:
    """Link a proven phone through the real routes: ask for a code, read the SMS SNS sent,
    send the code back. Answers the verify's profile."""
    sent = api.call("POST", "/v1/me/phone", as_user=citizen_id, body={"phone": number})
    assert sent.status == 202, sent.body
    verified = api.call(
        "POST",
        "/v1/me/phone/verify",
        as_user=citizen_id,
        body={"verification_id": sent.body["verification_id"], "code": sms_code(number)},
    )
    assert verified.status == 200, verified.body
    assert verified.body["phone_linked"] is True
    return dict(verified.body)


def register(
    api: Api, citizen_id: str, phone: str | None = None, district: str = "naeoe-dong"
) -> dict[str, Any]:
    """Register a citizen and, with `phone`, link that number by proof."""
    body = {"display_name": citizen_id, "district": district}
    response = api.call("PUT", "/v1/me", as_user=citizen_id, body=body)
    assert response.status == 200, response.body
    return link_phone(api, citizen_id, phone) if phone is not None else dict(response.body)


@pytest.fixture
def app_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The app's log lines at DEBUG, as Lambda would ship them. (capsys does not see them:
    Powertools' handler holds the stdout of the moment `wiring` was imported.)"""
    from chalicelib import wiring

    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    wiring.logger.setLevel("DEBUG")
    lines = io.StringIO()
    handler = wiring.logger.registered_handler
    before = handler.setStream(lines)  # type: ignore[attr-defined]
    try:
        yield lines
    finally:
        handler.setStream(before)  # type: ignore[attr-defined]
        wiring.logger.setLevel(None)
