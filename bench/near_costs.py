"""What "near me" costs (DESIGN §4c): `python -m bench.near_costs` (moto in process, ~1 min).

A whole city as bench/city_seed.py plans it (500 shelters and 500 robots over Gimhae's
districts, weighted to the town's dong, some sharing a spot), registered as provisioning
registers it (iot/provisioning.record_devices: the registry row and the state row, its
geohash in it) and given its one message through the real device-reports handler, so the
state items are their real size. Then, through the real routes behind the in-process API
Gateway, `GET /v1/shelters?near=` and `/v1/robots?near=` from points spread over the city
(limit 10 and 50), each counted at the botocore layer (bench/dynamodb_costs.py: requests,
RRU by DynamoDB's rules), with the answer's size; the same for a point far from the city
(Seoul) and for the full list of 500 shelters, for comparison.
"""

from __future__ import annotations

import json
import os
import random
import statistics
from datetime import UTC, datetime
from typing import Any

REGION = "ap-northeast-2"
GIMHAE = ((35.15, 35.40), (128.70, 128.98))  # the bounding box the points are drawn from
SEOUL = (37.5665, 126.9780)


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    queries = [s["queries"] for s in samples]
    return {
        "look_ups": len(samples),
        "queries": {"mean": round(statistics.mean(queries), 2), "max": max(queries),
                    "histogram": {str(q): queries.count(q) for q in sorted(set(queries))}},
        "batch_gets_max": max(s["batch_gets"] for s in samples),
        "whole_index_reads": sum(s["whole_index"] for s in samples),
        "rru": {"mean": round(statistics.mean(s["rru"] for s in samples), 2),
                "max": max(s["rru"] for s in samples)},
        "answer_bytes": {"mean": round(statistics.mean(s["bytes"] for s in samples)),
                         "max": max(s["bytes"] for s in samples)},
        "scans": sum(s["scans"] for s in samples),
    }  # fmt: skip


def near_costs(points: int = 40, seed: int = 26) -> dict[str, Any]:
    from infra.local.stack import use_in_process_emulator

    use_in_process_emulator("bench")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    from chalice.config import Config
    from moto import mock_aws

    from bench.city_seed import plan_city, queue_bodies
    from bench.dynamodb_costs import metering

    with mock_aws():
        from app import app, handle_device_reports
        from chalicelib import config, wiring
        from infra.local import provision
        from infra.local.api_gateway import ApiGateway, request
        from infra.local.lambda_runtime import LambdaContext
        from iot.provisioning import record_devices

        wiring.clear()
        provision.create_tables()
        city = plan_city()
        record_devices([d.spec.registry_row() for d in city.devices], config.settings().city)
        bodies = queue_bodies(city.devices, datetime.now(UTC))
        for start in range(0, len(bodies), 10):
            records = [
                {"messageId": f"m{start + n}", "receiptHandle": f"rh{start + n}", "body": body,
                 "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                 "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                 "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:x", "awsRegion": REGION}
                for n, body in enumerate(bodies[start : start + 10])
            ]  # fmt: skip
            handle_device_reports({"Records": records}, LambdaContext("bench"))
        gateway = ApiGateway(app, Config.create(chalice_stage="dev", app_name="gimhae-smart-city"))

        def get(path: str) -> dict[str, Any]:
            with metering() as meter:  # reads only: no table schemas needed
                status, _, body = request(gateway, "GET", path, {}, None)
            assert status == 200, (path, status, body[:200])
            calls = meter.tally.calls
            return {
                "queries": calls["dynamodb:Query"],
                "batch_gets": calls["dynamodb:BatchGetItem"],
                "scans": calls["dynamodb:Scan"],
                "whole_index": 0,
                "rru": meter.tally.rru,
                "bytes": len(body),
                "answer": json.loads(body),
            }

        get("/v1/shelters?near=35.2334,128.8733")  # warm up: clients, the app's imports
        rng = random.Random(seed)
        spots = [(round(rng.uniform(*GIMHAE[0]), 5), round(rng.uniform(*GIMHAE[1]), 5))
                 for _ in range(points)]  # fmt: skip
        results: dict[str, Any] = {"fleet": city.counts()}
        for kind in ("shelters", "robots"):
            for limit in (10, 50):
                samples = []
                for lat, lon in spots:
                    sample = get(f"/v1/{kind}?near={lat},{lon}&limit={limit}")
                    assert len(sample.pop("answer")[kind]) == limit
                    sample["whole_index"] = int(sample["queries"] > 8)
                    samples.append(sample)
                results[f"{kind}, limit {limit}, points over Gimhae"] = _summary(samples)
        far = get(f"/v1/shelters?near={SEOUL[0]},{SEOUL[1]}")
        far.pop("answer")
        results["shelters, limit 10, from Seoul (far from the fleet)"] = far
        full = get("/v1/shelters")
        results["full list of shelters (no near)"] = {
            "shelters": len(full.pop("answer")["shelters"]),
            **{k: full[k] for k in ("queries", "rru", "bytes")},
        }
        wiring.clear()
    return results


def main() -> None:
    print(json.dumps(near_costs(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
