"""Provision one device: `python -m iot provision --thing robot-101 --type robot`.

The steps IoT Core asks for, through boto3, against AWS or the local stack's emulator:
1. the thing, of its type, with its district as an attribute;
2. a key pair made in the device's folder and a CSR; only the CSR leaves the folder and a
   certificate comes back (`CreateCertificateFromCsr` in AWS; locally the local CA signs it
   and the certificate is registered in moto, as the stack registers its fleet's);
3. the type's policy (iot/policies.py) attached to the certificate, the certificate to the
   thing;
4. the city's registry: the `devices` row and the fleet state row (as the stack does for its
   fleet file), so a robot's deposits are credited and the device shows in the lists;
5. locally: the running stack's broker grants the device its topics (no restart);
6. the device's config file (0644; the key beside it is 0600) for `python -m iot robot|shelter`.

Locally everything is read from `<state_dir>/stack.json`; against AWS pass `--aws`, the
endpoint (`--endpoint`, from `aws iot describe-endpoint`) and the Amazon root CA file.
"""

from __future__ import annotations

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

from iot import policies
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
        """The device as the fleet data file lists it (provision.register_devices)."""
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


def create_thing(iot: Any, spec: DeviceSpec) -> None:
    with contextlib.suppress(iot.exceptions.ResourceAlreadyExistsException):
        iot.create_thing_type(thingTypeName=spec.device_type)
    attributes = {"attributes": {"district": spec.district}}
    try:
        iot.create_thing(
            thingName=spec.thing, thingTypeName=spec.device_type, attributePayload=attributes
        )
    except iot.exceptions.ResourceAlreadyExistsException:
        # AWS: the thing exists with other attributes (a device moved): re-provisioning
        # updates them and issues a new certificate
        iot.update_thing(thingName=spec.thing, attributePayload={**attributes, "merge": True})


def attach(iot: Any, spec: DeviceSpec, certificate_arn: str, prefix: str) -> None:
    iot.attach_policy(
        policyName=policies.policy_name(spec.device_type, prefix), target=certificate_arn
    )
    iot.attach_thing_principal(thingName=spec.thing, principal=certificate_arn)


Issuer = Callable[[str], tuple[str, str]]
"""A CSR (PEM) in, the registered certificate's (ARN, PEM) out."""


def aws_csr_issuer(iot: Any) -> Issuer:
    """IoT Core signs the CSR (CreateCertificateFromCsr) and registers the certificate."""

    def issue(csr: str) -> tuple[str, str]:
        made = iot.create_certificate_from_csr(certificateSigningRequest=csr, setAsActive=True)
        return str(made["certificateArn"]), str(made["certificatePem"])

    return issue


def local_ca_issuer(iot: Any, ca: Any, thing: str) -> Issuer:
    """The local CA signs the CSR (the broker trusts it) and moto registers the certificate,
    as the stack registers its fleet's."""
    from infra.local.device_ca import sign_device_csr

    def issue(csr: str) -> tuple[str, str]:
        pem = sign_device_csr(ca, csr, thing)
        made = iot.register_certificate_without_ca(certificatePem=pem, status="ACTIVE")
        return str(made["certificateArn"]), pem

    return issue


def register_thing(
    iot: Any, spec: DeviceSpec, folder: Path, issue: Issuer, prefix: str
) -> tuple[str, Path, Path]:
    """Thing, key + CSR in `folder`, certificate, policy: (certificate ARN, key, cert)."""
    create_thing(iot, spec)
    key_file, csr = make_key_and_csr(folder, spec.thing)
    cert_arn, cert_pem = issue(csr)
    attach(iot, spec, cert_arn, prefix)
    cert_file = folder / "device.pem"
    write_file(cert_file, cert_pem.encode(), 0o644)
    return cert_arn, key_file, cert_file


def write_config(folder: Path, document: dict[str, Any]) -> Path:
    path = folder / "config.json"
    write_file(path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode(), 0o644)
    return path


def provision_local(spec: DeviceSpec, state_dir: Path, folder: Path | None = None) -> Provisioned:
    """Provision into the running local stack of `state_dir` (its stack.json)."""
    state_dir = Path(state_dir).resolve()
    stack_file = state_dir / "stack.json"
    try:
        stack = json.loads(stack_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(
            f"{stack_file} not found: start the local stack first (./dev up)"
        ) from None
    _use_stack_environment(stack)
    import boto3

    from chalicelib import config
    from infra.local import device_requests, pki, provision

    folder = (folder or state_dir / "devices" / spec.thing).resolve()
    session = boto3.session.Session(region_name=stack["region"])
    iot = session.client("iot", endpoint_url=stack["aws_endpoint_url"])
    ca = pki.CertPaths(state_dir / "certs" / "ca.pem", state_dir / "certs" / "ca.key")
    cert_arn, key_file, cert_file = register_thing(
        iot, spec, folder, local_ca_issuer(iot, ca, spec.thing), config.resource_prefix()
    )
    city = str(stack["mqtt"].get("city", "gimhae"))
    provision.register_devices({"city": city, "devices": [spec.registry_row()]})
    device_requests.request_access(
        state_dir,
        {
            "device_id": spec.thing,
            "type": spec.device_type,
            "cert_file": str(cert_file),
            "key_file": str(key_file),
            # the stack registers it again at every start (a kill loses no device)
            "registry": spec.registry_row(),
        },
    )
    ca_file = Path(stack["mqtt"]["ca_file"])
    if not ca_file.is_absolute():
        from infra.local.stack import ROOT

        ca_file = ROOT / ca_file
    document = {
        "device_id": spec.thing,
        "type": spec.device_type,
        "city": city,
        "district": spec.district,
        "host": stack["mqtt"]["host"],
        "port": int(stack["mqtt"]["port"]),
        "ca_file": str(ca_file.resolve()),
        "cert_file": cert_file.name,
        "key_file": key_file.name,
    }
    if spec.device_type == "robot":
        document["outbox"] = "outbox.sqlite"
    config_file = write_config(folder, document)
    return Provisioned(spec.thing, cert_arn, folder, config_file, key_file, cert_file)


def provision_aws(
    spec: DeviceSpec,
    folder: Path,
    endpoint: str,
    ca_file: Path,
    city: str = "gimhae",
    session: Any = None,
) -> Provisioned:
    """Provision in AWS: CreateCertificateFromCsr, policy, registry (the table names come
    from the stage environment, as the Lambdas get them)."""
    import boto3

    from chalicelib import config
    from infra.local import provision

    session = session or boto3.session.Session()
    iot = session.client("iot")
    cert_arn, key_file, cert_file = register_thing(
        iot, spec, folder.resolve(), aws_csr_issuer(iot), config.resource_prefix()
    )
    provision.register_devices({"city": city, "devices": [spec.registry_row()]})
    document = {
        "device_id": spec.thing,
        "type": spec.device_type,
        "city": city,
        "district": spec.district,
        "host": endpoint,
        "port": 8883,
        "ca_file": str(ca_file.resolve()),
        "cert_file": cert_file.name,
        "key_file": key_file.name,
    }
    if spec.device_type == "robot":
        document["outbox"] = "outbox.sqlite"
    config_file = write_config(folder, document)
    return Provisioned(spec.thing, cert_arn, folder.resolve(), config_file, key_file, cert_file)


def _use_stack_environment(stack: dict[str, Any]) -> None:
    """This process talks to the local stack's emulator with the dev stage's names."""
    from infra.local.stack import stage_environment

    for name, value in stage_environment("dev").items():
        os.environ.setdefault(name, value)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": str(stack["aws_endpoint_url"]),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": str(stack["region"]),
            "AWS_REGION": str(stack["region"]),
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    from chalicelib import wiring

    wiring.clear()
