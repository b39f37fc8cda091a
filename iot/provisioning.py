"""Provisioning one device, the one way for AWS and for the local stack.

The steps IoT Core asks for, through boto3:
1. the thing, of its type and in its type's group (names from iot/iot_names.py), with its
   district as an attribute;
2. a key pair made in the device's folder and a CSR; only the CSR leaves the folder and a
   certificate comes back from an `Issuer`: in AWS IoT's `CreateCertificateFromCsr`
   (`aws_csr_issuer`); locally the local CA, which the local stack passes in
   (infra/local/device_ca.py);
3. the type's policy (iot/policies.py) attached to the certificate, the certificate to the
   thing;
4. the city's registry: the `devices` row and the fleet state row, so a robot's deposits
   are credited and the device shows in the lists;
5. the device's config file (0644; the key beside it is 0600) for `python -m iot robot|shelter`.

Used by `python -m iot provision --aws`, `python -m infra.cdk.register_device` (AWS) and the
local stack (`python -m infra.local provision`, its fleet at start).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from iot import iot_names, policies
from iot.files import write_file

DEFAULT_LOCATION = {"lat": 35.2400, "lon": 128.8715}  # Yeonji Park


@dataclass(frozen=True)
class DeviceSpec:
    thing: str
    device_type: str
    district: str
    name: str | None = None
    lat: float = DEFAULT_LOCATION["lat"]
    lon: float = DEFAULT_LOCATION["lon"]

    def registry_row(self) -> dict[str, Any]:
        """The device as the fleet data file lists it (its registry row)."""
        return {
            "device_id": self.thing,
            "type": self.device_type,
            "name": self.name or self.thing,
            "district": self.district,
            "location": {"lat": self.lat, "lon": self.lon},
        }


@dataclass(frozen=True)
class Provisioned:
    thing: str
    certificate_arn: str
    folder: Path
    config_file: Path
    key_file: Path
    cert_file: Path

    def summary(self) -> str:
        """What the provisioning commands print: one JSON line."""
        return json.dumps(
            {
                "thing": self.thing,
                "certificate_arn": self.certificate_arn,
                "config": str(self.config_file),
            }
        )


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """The device's arguments, alike in `python -m iot provision` and `python -m infra.local
    provision`."""
    parser.add_argument("--thing", required=True)
    parser.add_argument("--type", required=True, choices=policies.DEVICE_TYPES)
    parser.add_argument("--district", default="naeoe-dong")
    parser.add_argument("--name", default=None)
    parser.add_argument("--folder", default=None, help="the device's folder (key, config)")


def device_spec(args: argparse.Namespace) -> DeviceSpec:
    return DeviceSpec(args.thing, args.type, args.district, args.name)


def make_key_and_csr(folder: Path, thing: str) -> tuple[Path, str]:
    """An EC P-256 key in the device's folder (0600) and a CSR naming the thing.

    An existing key is kept (a re-provisioning gets a new certificate for the same key)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key_file = folder / "device.key"
    key: ec.EllipticCurvePrivateKey
    if key_file.exists():
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file} is not an EC key")
        key = loaded
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_file(key_file, pem, 0o600)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing)]))
        .sign(key, hashes.SHA256())
    )
    return key_file, csr.public_bytes(serialization.Encoding.PEM).decode()


Issuer = Callable[[str], tuple[str, str]]
"""A CSR (PEM) in, the registered certificate's (ARN, PEM) out."""


def aws_csr_issuer(iot: Any) -> Issuer:
    """IoT Core signs the CSR (CreateCertificateFromCsr) and registers the certificate."""

    def issue(csr: str) -> tuple[str, str]:
        made = iot.create_certificate_from_csr(certificateSigningRequest=csr, setAsActive=True)
        return str(made["certificateArn"]), str(made["certificatePem"])

    return issue


def create_device_types(iot: Any, prefix: str) -> None:
    """A thing type and a thing group per device type: what the CDK stack creates in AWS,
    for an account without it (the local stack, tests)."""
    for device_type in policies.DEVICE_TYPES:
        iot.create_thing_type(thingTypeName=iot_names.thing_type_name(device_type, prefix))
        with contextlib.suppress(iot.exceptions.ResourceAlreadyExistsException):
            iot.create_thing_group(thingGroupName=iot_names.thing_group_name(device_type, prefix))


def create_thing(iot: Any, spec: DeviceSpec, prefix: str) -> None:
    """The thing, of its type, in its type's group, its district as an attribute."""
    attributes = {"attributes": {"district": spec.district}}
    try:
        iot.create_thing(
            thingName=spec.thing,
            thingTypeName=iot_names.thing_type_name(spec.device_type, prefix),
            attributePayload=attributes,
        )
    except iot.exceptions.ResourceAlreadyExistsException:
        # AWS: the thing exists with other attributes (a device moved): re-provisioning
        # updates them and issues a new certificate
        iot.update_thing(thingName=spec.thing, attributePayload={**attributes, "merge": True})
    iot.add_thing_to_thing_group(
        thingGroupName=iot_names.thing_group_name(spec.device_type, prefix), thingName=spec.thing
    )


def attach(iot: Any, spec: DeviceSpec, certificate_arn: str, prefix: str) -> None:
    iot.attach_policy(
        policyName=iot_names.policy_name(spec.device_type, prefix), target=certificate_arn
    )
    iot.attach_thing_principal(thingName=spec.thing, principal=certificate_arn)


def register_certificate(iot: Any, spec: DeviceSpec, certificate_arn: str, prefix: str) -> None:
    """A thing for a certificate already registered (the local stack's fleet)."""
    create_thing(iot, spec, prefix)
    attach(iot, spec, certificate_arn, prefix)


def register_thing(
    iot: Any, spec: DeviceSpec, folder: Path, issue: Issuer, prefix: str
) -> tuple[str, Path, Path]:
    """Thing, key + CSR in `folder`, certificate, policy: (certificate ARN, key, cert)."""
    create_thing(iot, spec, prefix)
    key_file, csr = make_key_and_csr(folder, spec.thing)
    cert_arn, cert_pem = issue(csr)
    attach(iot, spec, cert_arn, prefix)
    cert_file = folder / "device.pem"
    write_file(cert_file, cert_pem.encode(), 0o644)
    return cert_arn, key_file, cert_file


def record_devices(devices: list[dict[str, Any]], city: str) -> int:
    """The city's registry: each device's row and its state row. The tables are this
    process's (its stage environment), the app's own adapters write them."""
    from datetime import UTC, datetime

    from chalicelib.adapters.dynamodb_devices import DynamoDbDevices

    count = DynamoDbDevices.register(devices, datetime.now(UTC))
    seed_device_states(devices, city)
    return count


def seed_device_states(devices: list[dict[str, Any]], city: str) -> None:
    """A state row per device (offline until it reports), so the public lists show it; a
    row kept from an earlier run stays."""
    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet

    store = DynamoDbFleet(city)
    for device in devices:
        store.create_state(device["device_id"], device["type"])


def device_config(
    spec: DeviceSpec,
    city: str,
    host: str,
    port: int,
    ca_file: Path,
    key_file: Path,
    cert_file: Path,
) -> dict[str, Any]:
    """What `python -m iot robot|shelter` reads: the broker, the CA, the device's files."""
    document: dict[str, Any] = {
        "device_id": spec.thing,
        "type": spec.device_type,
        "city": city,
        "district": spec.district,
        "host": host,
        "port": port,
        "ca_file": str(ca_file.resolve()),
        "cert_file": cert_file.name,
        "key_file": key_file.name,
    }
    if spec.device_type == "robot":
        document["outbox"] = "outbox.sqlite"
    return document


def write_config(folder: Path, document: dict[str, Any]) -> Path:
    path = folder / "config.json"
    write_file(path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode(), 0o644)
    return path


def provision_aws(
    spec: DeviceSpec,
    folder: Path,
    endpoint: str,
    ca_file: Path,
    city: str = "gimhae",
    session: Any = None,
    prefix: str | None = None,
) -> Provisioned:
    """Provision in AWS: CreateCertificateFromCsr, policy, registry (the table names and,
    unless given, the prefix come from the stage environment, as the Lambdas get them)."""
    import boto3

    if prefix is None:
        from chalicelib import config

        prefix = config.resource_prefix()
    session = session or boto3.session.Session()
    iot = session.client("iot")
    folder = folder.resolve()
    cert_arn, key_file, cert_file = register_thing(iot, spec, folder, aws_csr_issuer(iot), prefix)
    record_devices([spec.registry_row()], city)
    config_file = write_config(
        folder, device_config(spec, city, endpoint, 8883, ca_file, key_file, cert_file)
    )
    return Provisioned(spec.thing, cert_arn, folder, config_file, key_file, cert_file)
