"""Register a device in AWS IoT and in the app's device registry.

    python -m infra.cdk.register_device robot-003 --type robot --stage dev [--out certs/]

Creates the thing (of its type, in its type's group), a key pair and an active certificate,
attaches the type's policy to the certificate and the certificate to the thing, and writes
the device's row in the devices table (unknown devices are refused by the cloud). Prints the
data endpoint and writes the certificate and private key into --out (keep the key secret).
With --fleet FILE, details (name, district, location) come from a fleet data file.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from infra.cdk.functions import stage_import
from infra.cdk.iot_names import iot_policy_name, thing_group_name, thing_type_name
from infra.cdk.stage import Stage
from iot import policies

DEFAULT_FLEET = Path(__file__).resolve().parents[2] / "iot" / "fleet" / "yeonji-park.json"


def fleet_entry(fleet: Path, device_id: str) -> dict[str, Any] | None:
    devices = json.loads(fleet.read_text(encoding="utf-8")).get("devices", [])
    return next((d for d in devices if d["device_id"] == device_id), None)


def register(iot: Any, stage: Stage, device_id: str, device_type: str, out: Path) -> dict[str, str]:
    iot.create_thing(thingName=device_id, thingTypeName=thing_type_name(stage, device_type))
    iot.add_thing_to_thing_group(
        thingGroupName=thing_group_name(stage, device_type), thingName=device_id
    )
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=iot_policy_name(stage, device_type), target=cert["certificateArn"])
    iot.attach_thing_principal(thingName=device_id, principal=cert["certificateArn"])
    out.mkdir(parents=True, exist_ok=True)
    cert_file = out / f"{device_id}.cert.pem"
    key_file = out / f"{device_id}.private.key"
    cert_file.write_text(cert["certificatePem"], encoding="utf-8")
    key_file.touch(mode=0o600)
    key_file.write_text(cert["keyPair"]["PrivateKey"], encoding="utf-8")
    endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    return {
        "thing": device_id,
        "certificate_arn": cert["certificateArn"],
        "cert_file": str(cert_file),
        "key_file": str(key_file),
        "endpoint": endpoint,
    }


def record_device(stage: Stage, spec: dict[str, Any]) -> None:
    """The app's own adapter writes the row, with the stage's table name."""
    with stage_import(stage.env):
        from chalicelib.adapters.dynamodb_devices import DynamoDbDevices
        from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet

        DynamoDbDevices.register([spec], datetime.now(UTC))
        # its state row: the public lists show it (offline) before its first message
        DynamoDbFleet(stage.city).create_state(str(spec["device_id"]), spec["type"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device_id")
    parser.add_argument("--type", choices=policies.DEVICE_TYPES, required=True)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, default=Path("certs"))
    parser.add_argument("--fleet", type=Path, default=DEFAULT_FLEET)
    parser.add_argument("--name")
    parser.add_argument("--district")
    parser.add_argument("--lat", type=float)
    parser.add_argument("--lon", type=float)
    args = parser.parse_args(argv)

    stage = Stage.load(args.stage)
    known = fleet_entry(args.fleet, args.device_id) if args.fleet.exists() else None
    spec = dict(known or {})
    spec.update({"device_id": args.device_id, "type": args.type})
    for key in ("name", "district"):
        if getattr(args, key):
            spec[key] = getattr(args, key)
    if args.lat is not None and args.lon is not None:
        spec["location"] = {"lat": args.lat, "lon": args.lon}
    missing = [k for k in ("name", "district", "location") if k not in spec]
    if missing:
        parser.error(f"{args.device_id} is not in {args.fleet}: give --{', --'.join(missing)}")

    result = register(boto3.client("iot"), stage, args.device_id, args.type, args.out)
    record_device(stage, spec)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
