"""Register a device in a deployed stage: a thin command line over iot/provisioning.py.

    python -m infra.cdk.register_device robot-003 --type robot --stage dev [--out certs/]

Creates the thing (of its type, in its type's group), a key pair in `<out>/<device_id>/`
and a CSR that IoT signs (CreateCertificateFromCsr: the private key never leaves the
folder), attaches the type's policy to the certificate and the certificate to the thing,
writes the device's row in the devices table (unknown devices are refused by the cloud) and
the device's config file. Prints the data endpoint and the files. With --fleet FILE,
details (name, district, location) come from a fleet data file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import boto3

from infra.cdk.functions import stage_import
from infra.cdk.region import use_one_region
from infra.cdk.stage import Stage
from iot import policies
from iot.provisioning import DeviceSpec, Provisioned, SpecError, make_spec, provision_aws

DEFAULT_FLEET = Path(__file__).resolve().parents[2] / "iot" / "fleet" / "yeonji-park.json"


def fleet_entry(fleet: Path, device_id: str) -> dict[str, Any] | None:
    devices = json.loads(fleet.read_text(encoding="utf-8")).get("devices", [])
    return next((d for d in devices if d["device_id"] == device_id), None)


def register(stage: Stage, spec: DeviceSpec, folder: Path, ca_file: Path) -> dict[str, str]:
    """Provision in the stage's account, its registry written by the app's own adapters
    with the stage's table names."""
    endpoint = boto3.client("iot").describe_endpoint(endpointType="iot:Data-ATS")
    with stage_import(stage.env):
        done: Provisioned = provision_aws(
            spec,
            folder,
            endpoint["endpointAddress"],
            ca_file,
            city=stage.city,
            prefix=stage.prefix,
        )
    return {
        "thing": done.thing,
        "certificate_arn": done.certificate_arn,
        "cert_file": str(done.cert_file),
        "key_file": str(done.key_file),
        "config": str(done.config_file),
        "endpoint": endpoint["endpointAddress"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device_id")
    parser.add_argument("--type", choices=policies.DEVICE_TYPES, required=True)
    parser.add_argument("--stage", default="dev")
    parser.add_argument(
        "--out", type=Path, default=Path("certs"), help="the device's folder is <out>/<id>"
    )
    parser.add_argument(
        "--ca-file",
        type=Path,
        default=Path("AmazonRootCA1.pem"),
        help="Amazon's root CA, as the device's config names it",
    )
    parser.add_argument("--fleet", type=Path, default=DEFAULT_FLEET)
    parser.add_argument("--name")
    parser.add_argument("--district")
    parser.add_argument("--lat", type=float)
    parser.add_argument("--lon", type=float)
    args = parser.parse_args(argv)

    use_one_region()  # `export AWS_REGION=...` as for the CDK CLI is enough
    stage = Stage.load(args.stage)
    known = fleet_entry(args.fleet, args.device_id) if args.fleet.exists() else None
    details = dict(known or {})
    for key in ("name", "district"):
        if getattr(args, key):
            details[key] = getattr(args, key)
    if args.lat is not None and args.lon is not None:
        details["location"] = {"lat": args.lat, "lon": args.lon}
    missing = [k for k in ("name", "district", "location") if k not in details]
    if missing:
        parser.error(f"{args.device_id} is not in {args.fleet}: give --{', --'.join(missing)}")

    try:  # the same checks as `python -m iot provision`
        spec = make_spec(
            args.device_id,
            args.type,
            details["name"],
            details["district"],
            details["location"]["lat"],
            details["location"]["lon"],
        )
    except SpecError as e:
        parser.error(str(e))
    result = register(stage, spec, args.out / args.device_id, args.ca_file)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
