"""What the control room costs in DynamoDB: `python -m bench.control_room_costs` (moto in
process; a few seconds). `--write` also puts the table into bench/RESULTS.md (its own section,
the other sections left as they are).

Every operation runs as an operator, a support or a finance person runs it: the real routes
through the in-process API Gateway the functional tests use (infra/local/api_gateway.py, the
dev issuer's tokens, the authorizer), and the real Lambda handlers for what devices and
queues deliver (`handle_device_reports`, `handle_deposits`, `handle_payout_chunks`,
`handle_ledger_changes`). Each is metered with bench/dynamodb_costs.py: DynamoDB requests,
read and write units (of which index writes), and every AWS call by operation.

Issue 22's claims, which tests/functional/test_control_room_costs.py keeps true: the alert
list, the action log and the correction queue are Queries on indexes (nothing scans); a
citizen look-up is at most 2 reads; an alert transition adds at most one written item to
the path that raised it before alerts (the same four requests: one UpdateItem becomes a
TransactWriteItems of that item and the alert).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REGION = "ap-northeast-2"
SHELTER = "shelter-001"
ROBOT = "robot-001"
NEW_ROBOT = {
    "device_id": "robot-777",
    "type": "robot",
    "name": "bench robot, provisioned late",
    "district": "naeoe-dong",
    "location": {"lat": 35.24, "lon": 128.87},
}
PHONE = "010-3131-4141"
ACCOUNT = {"bank": "KB", "account_number": "123456-01-234567", "holder": "박 서연"}

# The device paths before alerts: main at e451bb1 (`git archive e451bb1`), the same messages
# through this module's `_telemetry` and `_status`, metered alike (2026-12-07): requests and
# items written (each was one UpdateItem then). tests/functional/test_control_room_costs.py
# holds today's figures against these.
BEFORE_ALERTS = {
    "shelter telemetry raising an air alert": {"dynamodb_requests": 4, "items_written": 4},
    "shelter telemetry clearing the air alert (11th calm minute)": {
        "dynamodb_requests": 4, "items_written": 4},
    "robot status raising a fault alert": {"dynamodb_requests": 3, "items_written": 3},
    "shelter telemetry escalating it (bad to very bad)": {
        "dynamodb_requests": 3, "items_written": 3},
}  # fmt: skip
NOTES = (
    "Before alerts (main at e451bb1, the same device messages through this module's "
    "helpers, measured 2026-12-07): telemetry raising an air alert 4 requests (UpdateItem 4), "
    "4 items, 9 WRU (5); clearing it the same; a robot's fault 3 requests (UpdateItem 3), 3 "
    "items, 6 WRU (3). Now each is the same requests and one item more: the alert, written "
    "in the transaction that was the episode's UpdateItem (TransactWriteItems of the "
    "device's state and the alert). The units rise more than the items (17, 21 and 11 WRU): "
    "a transaction bills 2x, and the alert item has indexes. The escalation (bad to very "
    "bad within the episode) was 3 requests, 3 items, 5 WRU (2), with no notice; it is a "
    "transition now (a timeline event and an SNS notice `escalated`), so besides the alert "
    "item it has the outbox's delivered mark of its notice: 4 requests, 5 items. "
    "A filtered alert list (`acknowledged`, `kind`, `severity`, `district`) reads pages of "
    "100 and drops what does not match: one Query here, at most 5 (its MAX_PAGES) when the "
    "filter drops most of what it reads. "
    "A closed quarantine entry is about 1 KB (1,021-1,025 B from run to run, with its "
    "payload), so a discard's transaction is 6 or 8 WRU. "
    "The recycling report's 10 Queries are the month's citizen rows, one paged Query per "
    "partition of the month (MONTH_SHARDS, so no key is hot); the "
    "payout export's first call writes the file (S3) and its SHA-256 in the run's log."
)


class _Clock:
    """The fleet's clock (devices' time, the air rule's hysteresis), half an hour behind the
    wall clock so that stepping it never stamps a message ahead of its receipt."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class _Api:
    """Calls through the local API Gateway (the authorizer, the gateway's responses) into the
    app, with the dev issuer's tokens; a status other than the expected one is an error."""

    def __init__(self, issuer: Any) -> None:
        from chalice.config import Config

        from app import app
        from infra.local.api_gateway import ApiGateway

        self._issuer = issuer
        self._gateway = ApiGateway(
            app, Config.create(chalice_stage="dev", app_name="gimhae-smart-city")
        )

    def raw(
        self, method: str, path: str, who: str, roles: tuple[str, ...], body: Any = None
    ) -> tuple[int, dict[str, Any], bytes]:
        from infra.local.api_gateway import request

        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {self._issuer.mint(who, roles=roles)}",
        }
        payload = json.dumps(body).encode() if body is not None else None
        status, out_headers, out = request(self._gateway, method, path, headers, payload)
        return status, dict(out_headers), out

    def call(
        self,
        method: str,
        path: str,
        who: str,
        roles: tuple[str, ...],
        body: Any = None,
        expect: int = 200,
    ) -> Any:
        status, _, out = self.raw(method, path, who, roles, body)
        answer = json.loads(out) if out else None
        if status != expect:
            raise AssertionError(f"{method} {path}: {status} {answer}")
        return answer


OPERATOR = ("operator",)
SUPPORT = ("support",)
FINANCE = ("finance",)
ADMIN = ("admin",)


def section() -> dict[str, Any]:
    """bench/RESULTS.md's section: the figures, when, and what they are compared with."""
    from bench.results import dated

    return {**dated(costs()), "notes": NOTES}


def costs() -> dict[str, Any]:
    """Every control-room operation's cost, by label, in bench/results.py's per-event shape,
    plus `items_written` (items a call writes: a transaction's each, condition checks not)."""
    saved = dict(os.environ)
    state = Path(tempfile.mkdtemp(prefix="gimhae-bench-control-room-"))
    try:
        return _costs(state)
    finally:  # the issuer's keys, the topic's ARN, the data key: later benchmarks get ours
        from chalicelib import wiring

        os.environ.clear()
        os.environ.update(saved)
        wiring.clear()  # nothing built on this run's environment outlives it
        shutil.rmtree(state, ignore_errors=True)  # it holds the issuer's private key


def _costs(state: Path) -> dict[str, Any]:
    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # a log line per message otherwise
    from moto import mock_aws

    from bench.dynamodb_costs import metering

    with mock_aws():
        import boto3

        from chalicelib import config, wiring
        from chalicelib.adapters.dynamodb_models import ALL_MODELS, logical_name
        from infra.local import provision
        from infra.local.dev_issuer import ensure_issuer

        wiring.clear()
        provision.create_tables()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        os.environ.update(provision.stream_environment(dynamodb))
        provision.create_queues(boto3.client("sqs", region_name=REGION))
        fleet = provision.load_fleet()
        provision.register_devices(fleet)
        provision.create_notifications(
            boto3.client("sns", region_name=REGION), boto3.client("s3", region_name=REGION)
        )
        os.environ["PAYOUT_KMS_KEY_ID"] = provision.create_data_key(
            boto3.client("kms", region_name=REGION)
        )
        os.environ[config.ALERTS_TOPIC_ARN] = boto3.client("sns", region_name=REGION).create_topic(
            Name=config.alerts_topic_name()
        )["TopicArn"]
        iot = boto3.client("iot", region_name=REGION)
        for device in fleet["devices"]:  # shadows belong to things
            iot.create_thing(thingName=device["device_id"])
        issuer = ensure_issuer(state)
        os.environ.update(issuer.env())
        clock = _Clock()
        wiring.fleet()._clock = clock  # the one seam: time (the purifier reads the fleet's)
        wiring.alerts()._clock = clock  # staff steps on the devices' clock, as in the tests
        api = _Api(issuer)
        results: dict[str, Any] = {}
        with metering() as meter:
            meter.prime(dynamodb, [config.table_name(logical_name(m)) for m in ALL_MODELS])

            def measure(label: str, do: Callable[[], Any]) -> Any:
                meter.reset()
                out = do()
                results[label] = meter.reset().as_dict()
                return out

            _alerts(api, clock, measure)
            _purifier(api, clock, measure)
            _operator_actions(api, measure)
            _support(api, measure)
            _finance(api, measure)
            _action_log(api, measure)
        wiring.clear()
    return results


# Alerts -------------------------------------------------------------------------------------


def _report(device_id: str, channel: str, payload: dict[str, Any], clock: _Clock) -> None:
    """One message as the device-reports queue delivers it, received at the fleet's now."""
    from app import handle_device_reports
    from infra.local.lambda_runtime import LambdaContext

    body = {
        "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        "device_id": device_id,
        "channel": channel,
        "received_at": int(clock.now.timestamp() * 1000),
    }
    record = _sqs_record(body, f"m-{device_id}-{clock.now.timestamp()}")
    result = handle_device_reports({"Records": [record]}, LambdaContext("device-reports"))
    assert result == {"batchItemFailures": []}, result


def _sqs_record(body: dict[str, Any] | str, message_id: str, queue: str = "x") -> dict[str, Any]:
    """A message as the local stack's SQS poller hands it to a handler (one record)."""
    from infra.local.sqs_source import sqs_record

    message = {
        "MessageId": message_id,
        "ReceiptHandle": f"rh-{message_id}",
        "Body": body if isinstance(body, str) else json.dumps(body),
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
    }
    return sqs_record(
        message, queue_arn=f"arn:aws:sqs:{REGION}:123456789012:{queue}", region=REGION
    )


def _telemetry(clock: _Clock, pm10: float) -> None:
    payload = {"ts": clock.now.isoformat(), "pm10": pm10, "pm25": 10.0, "temp_c": 21.0,
               "humidity": 40.0, "co2_ppm": 600, "occupancy": 2,
               "chargers": {"total": 4, "in_use": 1}}  # fmt: skip
    _report(SHELTER, "shelter_telemetry", payload, clock)


def _status(clock: _Clock, fault: str | None, **step: float) -> None:
    clock.advance(**step)
    payload = {"ts": clock.now.isoformat(), "online": True, "bins": {"can": 0.2, "pet": 0.3},
               "fault": fault, "fw": "1.4.2"}  # fmt: skip
    _report(ROBOT, "robot_status", payload, clock)


Measure = Callable[[str, Callable[[], Any]], Any]


def _alerts(api: _Api, clock: _Clock, measure: Measure) -> None:
    def at(minutes: float, pm10: float) -> Callable[[], None]:
        def send() -> None:
            clock.advance(minutes=minutes)
            _telemetry(clock, pm10)

        return send

    at(0, 20)()  # warm: the device's cache, the clients
    measure("shelter telemetry, steady (no transition)", at(1, 22))
    measure("shelter telemetry raising an air alert", at(1, 120))
    measure("shelter telemetry escalating it (bad to very bad)", at(1, 200))
    measure("shelter telemetry, steady during the alert", at(1, 200))
    alert = api.call("GET", "/v1/admin/alerts?kind=air", "ops-kim", OPERATOR)["alerts"][0]
    path = f"/v1/admin/alerts/{alert['alert_id']}"
    measure(
        "alert list (GET /v1/admin/alerts: active)",
        lambda: api.call("GET", "/v1/admin/alerts", "ops-kim", OPERATOR),
    )
    measure(
        "alert list, every status, filtered (?status=all&acknowledged=false&kind=air)",
        lambda: api.call(
            "GET", "/v1/admin/alerts?status=all&acknowledged=false&kind=air", "ops-kim", OPERATOR
        ),
    )
    measure("alert detail", lambda: api.call("GET", path, "ops-kim", OPERATOR))
    measure(
        "alert acknowledge",
        lambda: api.call("POST", f"{path}/acknowledge", "ops-kim", OPERATOR, {"note": "on it"}),
    )
    measure(
        "alert acknowledge repeated (nothing changes)",
        lambda: api.call("POST", f"{path}/acknowledge", "ops-kim", OPERATOR, {}),
    )
    measure(
        "alert assign",
        lambda: api.call("POST", f"{path}/assign", "ops-kim", OPERATOR, {"assignee": "ops-park"}),
    )
    measure(
        "alert comment",
        lambda: api.call("POST", f"{path}/comments", "ops-kim", OPERATOR, {"text": "filter due"}),
    )
    for _ in range(10):
        at(1, 40)()
    measure("shelter telemetry clearing the air alert (11th calm minute)", at(1, 40))
    clock.advance(minutes=1)
    _status(clock, None)  # warm
    measure("robot status, steady (no transition)", lambda: _status(clock, None, seconds=30))
    measure("robot status raising a fault alert", lambda: _status(clock, "E42", seconds=30))
    fault = api.call("GET", "/v1/admin/alerts?kind=fault", "ops-kim", OPERATOR)["alerts"][0]
    measure(
        "alert clear by hand (fault, after a site visit)",
        lambda: api.call(
            "POST",
            f"/v1/admin/alerts/{fault['alert_id']}/clear",
            "ops-kim",
            OPERATOR,
            {"note": "jam removed"},
        ),
    )


# Purifier override ------------------------------------------------------------------------


def _purifier(api: _Api, clock: _Clock, measure: Measure) -> None:
    path = f"/v1/admin/shelters/{SHELTER}/purifier"
    clock.advance(minutes=1)
    _telemetry(clock, 120)  # bad air again: automatic control holds the purifier high
    measure(
        "purifier override (PUT .../purifier)",
        lambda: api.call("PUT", path, "ops-kim", OPERATOR, {"mode": "off", "minutes": 30}),
    )
    measure(
        "staff shelter view (GET /v1/admin/shelters/{id})",
        lambda: api.call("GET", f"/v1/admin/shelters/{SHELTER}", "ops-kim", OPERATOR),
    )
    measure(
        "purifier override ended (DELETE .../purifier)",
        lambda: api.call("DELETE", path, "ops-kim", OPERATOR),
    )


# Quarantine and dead letters ---------------------------------------------------------------


def _deposit(event_id: str, device_id: str) -> dict[str, Any]:
    """What the robot_deposits topic rule delivers for a robot's one-PET deposit."""
    payload = {
        "event_id": event_id,
        "citizen": {"phone": PHONE},
        "items": [{"material": "pet", "accepted": 1, "rejected": 0}],
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return {
        "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        "device_id": device_id,
        "client_id": device_id,
        "received_at": int(datetime.now(UTC).timestamp() * 1000),
    }


def _operator_actions(api: _Api, measure: Measure) -> None:
    import boto3

    from app import handle_deposits
    from bench.phones import register_in_process
    from chalicelib import queues
    from infra.local.lambda_runtime import LambdaContext
    from iot.provisioning import record_devices

    register_in_process("c-ops", "ops citizen", PHONE)
    for event_id in ("evt-q-0001", "evt-q-0002"):  # a robot nobody registered yet: quarantined
        record = _sqs_record(_deposit(event_id, "robot-777"), f"m-{event_id}")
        handle_deposits({"Records": [record]}, LambdaContext("deposits"))
    listed = measure(
        "quarantine list (GET /v1/admin/quarantine?source=deposits)",
        lambda: api.call("GET", "/v1/admin/quarantine?source=deposits", "op", OPERATOR),
    )
    entries = {e["event_id"]: e["entry_id"] for e in listed["items"]}
    record_devices([NEW_ROBOT], "gimhae")  # the reason is gone
    outcome = measure(
        "quarantine reprocess (credited)",
        lambda: api.call(
            "POST", f"/v1/admin/quarantine/{entries['evt-q-0001']}/reprocess", "op", OPERATOR
        ),
    )
    assert outcome["outcome"]["result"] == "credited", outcome
    measure(
        "quarantine discard",
        lambda: api.call(
            "POST",
            f"/v1/admin/quarantine/{entries['evt-q-0002']}/discard",
            "op",
            OPERATOR,
            {"note": "test message from the workshop"},
        ),
    )
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.get_queue_url(QueueName=queues.DEPOSITS.dlq_name)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(_deposit("evt-dlq-0001", ROBOT)))
    moved = measure(
        "dead-letter redrive (1 message; SQS calls too)",
        lambda: api.call(
            "POST",
            f"/v1/admin/dead-letters/{queues.DEPOSITS.dlq_name}/redrive",
            "op",
            OPERATOR,
            expect=202,
        ),
    )
    assert moved["moved"] == 1, moved


# Citizens and corrections ------------------------------------------------------------------


def _credit(who: str, points: int, key: str) -> None:
    """A credit through the one ledger posting (what a deposit or a prize writes)."""
    from chalicelib import wiring
    from chalicelib.adapters.dynamodb_ledger import account_of
    from chalicelib.adapters.dynamodb_models import Citizen
    from chalicelib.domain.ledger import Posting

    account = account_of(Citizen.get(who, consistent_read=True))
    wiring.ledger().post(Posting(key, account, points, "recycling", {}, datetime.now(UTC)))


def _support(api: _Api, measure: Measure) -> None:
    from bench.phones import register_in_process

    register_in_process("c-1", "민수", "010-1234-5678")
    api.call("PUT", "/v1/me/payout-account", "c-1", (), ACCOUNT)
    _credit("c-1", 500, "seed-c-1")
    found = measure(
        "citizen look-up by phone (GET /v1/admin/citizens?phone=)",
        lambda: api.call("GET", "/v1/admin/citizens?phone=01012345678", "sup", SUPPORT),
    )
    assert [c["citizen_id"] for c in found["citizens"]] == ["c-1"], found
    measure(
        "citizen look-up by id (?citizen_id=)",
        lambda: api.call("GET", "/v1/admin/citizens?citizen_id=c-1", "sup", SUPPORT),
    )
    measure(
        "citizen card (GET /v1/admin/citizens/{id})",
        lambda: api.call("GET", "/v1/admin/citizens/c-1", "sup", SUPPORT),
    )
    measure(
        "citizen ledger (GET /v1/admin/citizens/{id}/ledger)",
        lambda: api.call("GET", "/v1/admin/citizens/c-1/ledger", "sup", SUPPORT),
    )

    def propose(points: int) -> Any:
        body = {"points": points, "reason": "robot-002 jammed: 3 cans not credited"}
        return api.call(
            "POST", "/v1/admin/citizens/c-1/corrections", "sup", SUPPORT, body, expect=201
        )

    made = measure("correction propose", lambda: propose(30))
    measure(
        "correction queue (GET /v1/admin/corrections: pending)",
        lambda: api.call("GET", "/v1/admin/corrections", "sup", SUPPORT),
    )
    base = "/v1/admin/corrections"
    approved = measure(
        "correction approve (a ledger posting)",
        lambda: api.call("POST", f"{base}/{made['correction_id']}/approve", "fin-1", FINANCE),
    )
    assert approved["status"] == "approved", approved
    other = propose(40)
    measure(
        "correction reject",
        lambda: api.call(
            "POST",
            f"{base}/{other['correction_id']}/reject",
            "fin-1",
            FINANCE,
            {"note": "already credited"},
        ),
    )


# Finance ------------------------------------------------------------------------------------


def _drain_payout_chunks() -> None:
    """Deliver every payout chunk to its real handler, as Lambda's poller does."""
    import boto3

    from app import handle_payout_chunks
    from chalicelib import queues
    from infra.local.lambda_runtime import LambdaContext

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=queues.PAYOUT_CHUNKS.name)["QueueUrl"]
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", []):
        record = _sqs_record(got[0]["Body"], got[0]["MessageId"], queues.PAYOUT_CHUNKS.name)
        result = handle_payout_chunks({"Records": [record]}, LambdaContext("payout-chunks"))
        assert result == {"batchItemFailures": []}, result
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])


def _count_the_month() -> None:
    """The ledger's stream so far through its real handler (the report's city totals)."""
    import boto3
    import botocore.config

    from app import handle_ledger_changes
    from chalicelib import streams
    from infra.local.lambda_runtime import LambdaContext
    from infra.local.stream_source import stream_event

    client = boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        config=botocore.config.Config(account_id_endpoint_mode="disabled"),
    )
    event = stream_event(client, os.environ[streams.LEDGER_CHANGES.arn_variable], REGION)
    result = handle_ledger_changes(event, LambdaContext("ledger-changes"))
    assert result == {"batchItemFailures": []}, result


def _finance(api: _Api, measure: Measure) -> None:
    from chalicelib.domain.clock import SEOUL
    from chalicelib.domain.payout_runs import Period

    for who, points, account in (("p1", 2000, True), ("p2", 3500, True),
                                 ("n1", 2600, False), ("n2", 2100, False)):  # fmt: skip
        api.call("PUT", "/v1/me", who, (), {"display_name": who, "district": "naeoe-dong"})
        if account:
            api.call("PUT", "/v1/me/payout-account", who, (), ACCOUNT)
        _credit(who, points, f"seed-{who}")
    today = datetime.now(UTC).astimezone(SEOUL).date()
    period = str(Period.of(today).previous)
    run = measure(
        "payout run start (POST /v1/admin/payout-runs)",
        lambda: api.call(
            "POST", "/v1/admin/payout-runs", "fin-a", FINANCE, {"period": period}, expect=201
        ),
    )
    base = f"/v1/admin/payout-runs/{run['run_id']}"
    _drain_payout_chunks()
    measure(
        "payout-run list (GET /v1/admin/payout-runs)",
        lambda: api.call("GET", "/v1/admin/payout-runs", "fin-b", FINANCE),
    )
    skipped = measure(
        "payout-run skipped list (?reason=no_account)",
        lambda: api.call("GET", f"{base}/skipped?reason=no_account", "fin-b", FINANCE),
    )
    assert len(skipped["skipped"]) == 2, skipped
    measure(
        "payout-run approve (second person)",
        lambda: api.call("POST", f"{base}/approve", "fin-b", FINANCE),
    )

    def export() -> bytes:
        status, _, body = api.raw("GET", f"{base}/export", "fin-a", FINANCE)
        assert status == 200, body
        return body

    measure("payout-run export (CSV, first)", export)
    measure("payout-run export (CSV, again)", export)
    settled = measure(
        "payout-run settle (1 paid)",
        lambda: api.call("POST", f"{base}/settle", "fin-a", FINANCE, {"paid": ["p1"]}),
    )
    assert settled["applied"] == {"paid": 1, "failed": 0}, settled
    _count_the_month()
    month = today.strftime("%Y-%m")
    report = measure(
        "recycling report (JSON, GET /v1/admin/reports/recycling?month=)",
        lambda: api.call("GET", f"/v1/admin/reports/recycling?month={month}", "fin", FINANCE),
    )
    assert report["month"] == month, report


# The action log ------------------------------------------------------------------------------


def _action_log(api: _Api, measure: Measure) -> None:
    everything = measure(
        "staff action list (GET /v1/admin/actions)",
        lambda: api.call("GET", "/v1/admin/actions", "boss", ADMIN),
    )
    assert len(everything["actions"]) >= 10, everything
    mine = measure(
        "staff action list by actor (?actor=ops-kim)",
        lambda: api.call("GET", "/v1/admin/actions?actor=ops-kim", "boss", ADMIN),
    )
    assert mine["actions"] and {a["actor"] for a in mine["actions"]} == {"ops-kim"}, mine
    measure(
        "staff action list by target (?target=alert:...)",
        lambda: api.call(
            "GET", f"/v1/admin/actions?target={mine['actions'][-1]['target']}", "boss", ADMIN
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write",
        nargs="?",
        const=str(Path(__file__).with_name("RESULTS.md")),
        help="also put the table into this RESULTS.md (default bench/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    measured = section()
    print(json.dumps(measured, indent=2, ensure_ascii=False))
    if args.write:
        from bench import results

        results.rewrite_sections(args.write, {"control_room": measured})
        print(f"wrote the control room's section of {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
