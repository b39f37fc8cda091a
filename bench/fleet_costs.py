"""What shelters and robots cost in DynamoDB, and how many alerts a flapping sensor sends:
`python -m bench.fleet_costs` (moto in process; a few seconds).

- requests and capacity units per telemetry message (steady state: no transition), per
  message that opens an air alert, per robot status, per replayed message;
- the operator alerts in a simulated hour of a sensor flapping around the bad threshold
  (readings every 20 s, through the real queue handler);
- the reads of `GET /v1/shelters` for a city of 500 shelters, and of a shelter's week of air.
"""

from __future__ import annotations

import base64
import json
import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "ap-northeast-2"


def _record(
    device_id: str, channel: str, payload: dict[str, Any], n: int, received_at: datetime
) -> dict[str, Any]:
    body = {
        "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        "device_id": device_id,
        "channel": channel,
        # IoT Core's receipt stamp, on the bench's clock: a message stamped more than two
        # minutes after its receipt is refused (ts_in_future) and would be measured as one.
        "received_at": int(received_at.timestamp() * 1000),
    }
    return {
        "messageId": f"m{n}",
        "receiptHandle": f"rh{n}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:gimhae-dev-device-reports",
        "awsRegion": REGION,
    }


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def fleet_costs(shelters: int = 500, *, events_only: bool = False) -> dict[str, Any]:
    """Every figure of the module docstring; `events_only`: the per-message costs alone
    (telemetry steady, replayed, opening an alert; robot status), for bench/RESULTS.md."""
    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # a log line per message otherwise
    from moto import mock_aws

    from bench.dynamodb_costs import metering

    results: dict[str, Any] = {}
    with mock_aws():
        import boto3

        from chalicelib import config, wiring
        from chalicelib.adapters.dynamodb_models import ALL_MODELS, DeviceState, logical_name
        from infra.local import provision
        from infra.local.lambda_runtime import LambdaContext

        wiring.clear()
        provision.create_tables()
        fleet = provision.load_fleet()
        provision.register_devices(fleet)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name=config.alerts_topic_name())["TopicArn"]
        os.environ[config.ALERTS_TOPIC_ARN] = topic
        inbox = sqs.create_queue(QueueName="bench-alerts")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
        iot = boto3.client("iot", region_name=REGION)
        for device in fleet["devices"]:
            iot.create_thing(thingName=device["device_id"])
        clock = _Clock()
        service = wiring.fleet()
        service._clock = clock

        from app import handle_device_reports

        counter = iter(range(10**9))

        def send(device_id: str, channel: str, payload: dict[str, Any]) -> None:
            record = _record(device_id, channel, payload, next(counter), clock.now)
            handle_device_reports({"Records": [record]}, LambdaContext("bench"))

        def telemetry(pm10: float, pm25: float = 10.0) -> dict[str, Any]:
            return {
                "ts": clock.now.isoformat(), "pm10": pm10, "pm25": pm25, "temp_c": 21.0,
                "humidity": 40.0, "co2_ppm": 600, "occupancy": 2,
                "chargers": {"total": 4, "in_use": 1},
            }  # fmt: skip

        dynamodb = boto3.client("dynamodb", region_name=REGION)
        with metering() as meter:
            meter.prime(dynamodb, [config.table_name(logical_name(m)) for m in ALL_MODELS])
            send("shelter-001", "shelter_telemetry", telemetry(20))  # warm up: state, clients

            def measure(label: str, device_id: str, channel: str, payload: Any) -> None:
                meter.reset()
                send(device_id, channel, payload)
                results[label] = meter.reset().as_dict()

            clock.now += timedelta(minutes=1)
            measure("telemetry (steady)", "shelter-001", "shelter_telemetry", telemetry(22))
            replay = telemetry(22)
            measure("telemetry replayed", "shelter-001", "shelter_telemetry", replay)
            clock.now += timedelta(minutes=1)
            measure("telemetry opening an air alert", "shelter-001", "shelter_telemetry",
                    telemetry(120))  # fmt: skip
            clock.now += timedelta(minutes=1)
            status = {"ts": clock.now.isoformat(), "online": True,
                      "bins": {"can": 0.2, "pet": 0.3}, "fault": None, "fw": "1"}  # fmt: skip
            send("robot-001", "robot_status", status)
            clock.now += timedelta(seconds=30)
            measure("robot status (steady)", "robot-001", "robot_status",
                    {**status, "ts": clock.now.isoformat()})  # fmt: skip
        if events_only:
            wiring.clear()
            return results

        def drain() -> int:
            n = 0
            while True:
                got = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)
                if not got.get("Messages"):
                    return n
                for m in got["Messages"]:
                    n += 1
                    sqs.delete_message(QueueUrl=inbox, ReceiptHandle=m["ReceiptHandle"])

        # A flapping sensor for an hour: readings every 20 s, around the bad threshold
        # (PM2.5 35/36), after ten calm minutes so the episode is closed.
        clock.now += timedelta(minutes=11)
        send("shelter-002", "shelter_telemetry", telemetry(20))
        drain()
        rng = random.Random(9)
        readings = 0
        for _ in range(180):
            clock.now += timedelta(seconds=20)
            pm25 = rng.choice([20.0, 34.0, 37.0, 50.0])
            send("shelter-002", "shelter_telemetry", telemetry(20, pm25))
            readings += 1
        results["flapping sensor, one hour"] = {
            "readings": readings,
            "bad_readings_share": "1/2",
            "alerts_sent": drain(),
        }
        # Strict alternation every minute: the worst case for a naive threshold.
        clock.now += timedelta(minutes=30)
        send("shelter-002", "shelter_telemetry", telemetry(20))
        drain()
        for minute in range(60):
            clock.now += timedelta(minutes=1)
            send("shelter-002", "shelter_telemetry", telemetry(20, 80.0 if minute % 2 else 10.0))
        results["sensor alternating bad/good every minute, one hour"] = {
            "readings": 60,
            "alerts_sent": drain(),
        }

        # A city of 500 shelters: one state item each, as the handler writes them (not
        # metered: the scene, not the event).
        for i in range(shelters):
            device_id = f"bench-shelter-{i:04d}"
            DeviceState(
                device_id, device_type="shelter",
                fleet_group=f"{config.settings().city}#shelter",
                place=f"jangyu{1 + i % 3}-dong#{device_id}",
                name=f"장유 스마트쉼터 {i}", district=f"jangyu{1 + i % 3}-dong",
                lat=35.19 + i / 10000, lon=128.80 + i / 10000, online=True,
                last_seen=clock.now, pm10=42.0, pm25=18.5, grade="moderate",
                air_at=clock.now, telemetry_ts=clock.now,
                temp_c=21.3, humidity=40.0, co2_ppm=650, occupancy=3,
                chargers_total=4, chargers_in_use=1, accepting=True,
                purifier_reported="auto", purifier_desired="auto", alerts={}, outbox={},
            ).save()  # fmt: skip
        from chalice.test import Client

        from app import app

        with Client(app) as client, metering() as meter:
            meter.prime(dynamodb, [config.table_name(logical_name(m)) for m in ALL_MODELS])
            meter.reset()
            response = client.http.get("/v1/shelters")
            listed = len(json.loads(response.body)["shelters"])
            results[f"GET /v1/shelters ({listed} shelters)"] = {
                **meter.reset().as_dict(),
                "response_bytes": len(response.body),
            }
            response = client.http.get("/v1/shelters?district=jangyu2-dong")
            results[
                f"GET /v1/shelters?district= ({len(json.loads(response.body)['shelters'])})"
            ] = meter.reset().as_dict()
            response = client.http.get("/v1/shelters/shelter-002/air?hours=168")
            results["GET /v1/shelters/{id}/air?hours=168"] = meter.reset().as_dict()
        wiring.clear()
    return results


def main() -> None:
    print(json.dumps(fleet_costs(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
