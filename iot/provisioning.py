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
import csv
import io
import json
import math
import os
import re
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
    spec: DeviceSpec | None = None

    def summary(self) -> str:
        """What the provisioning commands print: one JSON line."""
        place = self.spec.registry_row() if self.spec is not None else {}
        place.pop("device_id", None)
        return json.dumps(
            {
                "thing": self.thing,
                **place,
                "certificate_arn": self.certificate_arn,
                "config": str(self.config_file),
            },
            ensure_ascii=False,
        )


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """The device's arguments, alike in `python -m iot provision` and `python -m infra.local
    provision`: one device (`--thing`, `--type`, ...) or many (`--csv`)."""
    parser.add_argument("--thing", help="the device's id: its thing name and MQTT client id")
    parser.add_argument("--type", choices=policies.DEVICE_TYPES, help="robot or shelter")
    parser.add_argument("--name", default=None, help="its name in the app (default: the id)")
    parser.add_argument(
        "--district",
        default=None,
        help=f"its district's code, e.g. naeoe-dong (default {DEFAULT_DISTRICT})",
    )
    parser.add_argument(
        "--lat", type=float, default=None, help="latitude, in the city (default: Yeonji Park)"
    )
    parser.add_argument("--lon", type=float, default=None, help="longitude, with --lat")
    parser.add_argument(
        "--csv",
        type=Path,
        default=None,
        help="provision every device of a CSV file, columns thing,type,name,district,lat,lon",
    )
    parser.add_argument(
        "--folder",
        default=None,
        help="the device's folder: key, certificate, config (with --csv: one folder per device "
        "under it)",
    )


class SpecError(ValueError):
    """A device's details are wrong; the message lists every problem."""


DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
DEFAULT_DISTRICT = "naeoe-dong"
MAX_NAME = 100
CSV_COLUMNS = ("thing", "type", "name", "district", "lat", "lon")
MAX_CSV_DEVICES = 1000
MAX_CSV_BYTES = 4 * 1024 * 1024  # 1000 rows of the longest fields fit in well under this
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def make_spec(
    thing: str | None,
    device_type: str | None,
    name: str | None = None,
    district: str | None = None,
    lat: float | str | None = None,
    lon: float | str | None = None,
) -> DeviceSpec:
    """A checked device: an id the API and the broker take, a known type, a printable name,
    a district of the city (chalicelib/data/districts.json), a place inside the city."""
    from chalicelib.domain.districts import city_bounds, districts

    problems = []
    if not thing or not DEVICE_ID.fullmatch(thing):
        problems.append(f"thing {thing!r}: 1-128 characters of A-Z a-z 0-9 _ -")
    if device_type not in policies.DEVICE_TYPES:
        problems.append(f"type {device_type!r}: one of {', '.join(policies.DEVICE_TYPES)}")
    if name is not None:
        name = name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            problems.append(f"name {name[:40]!r}: 1-{MAX_NAME} printable characters")
    district = district or DEFAULT_DISTRICT
    known = districts()
    if district not in known:
        problems.append(f"district {district[:40]!r}: one of {', '.join(sorted(known))}")
    place = _place(lat, lon, problems)
    if place is not None and not city_bounds().holds(*place):
        box = city_bounds()
        problems.append(
            f"location {place[0]}, {place[1]} is not in the city "
            f"(lat {box.south}..{box.north}, lon {box.west}..{box.east})"
        )
    if problems:
        raise SpecError("; ".join(problems))
    assert thing is not None and device_type is not None
    lat_, lon_ = place or (DEFAULT_LOCATION["lat"], DEFAULT_LOCATION["lon"])
    return DeviceSpec(thing, device_type, district, name, lat_, lon_)


def _place(
    lat: float | str | None, lon: float | str | None, problems: list[str]
) -> tuple[float, float] | None:
    given = [v for v in (lat, lon) if v not in (None, "")]
    if not given:
        return None
    if len(given) == 1:
        problems.append("give both --lat and --lon, or neither")
        return None
    texts = {"latitude": str(lat).strip(), "longitude": str(lon).strip()}
    odd = [f"{k} {v!r}" for k, v in texts.items() if not _DECIMAL.fullmatch(v)]
    if odd:  # nan, inf, 1_0, ３５, 0x1p5: float() takes them, a person means none of them
        problems.append(f"{', '.join(odd)}: numbers in degrees, in decimal")
        return None
    lat_, lon_ = float(texts["latitude"]), float(texts["longitude"])
    if not (math.isfinite(lat_) and -90 <= lat_ <= 90):
        problems.append(f"latitude {lat_}: -90..90 degrees")
        return None
    if not (math.isfinite(lon_) and -180 <= lon_ <= 180):
        problems.append(f"longitude {lon_}: -180..180 degrees")
        return None
    return lat_, lon_


def device_spec(args: argparse.Namespace) -> DeviceSpec:
    return make_spec(args.thing, args.type, args.name, args.district, args.lat, args.lon)


def device_specs(args: argparse.Namespace) -> list[DeviceSpec]:
    """The devices a command line names: `--csv FILE`, or one with `--thing` and `--type`."""
    if args.csv is None:
        if not args.thing or not args.type:
            raise SpecError("give --thing and --type (or --csv FILE)")
        return [device_spec(args)]
    one = ("thing", "type", "name", "district", "lat", "lon")
    if any(getattr(args, k) is not None for k in one):
        raise SpecError("--csv names every device: no --thing, --type, ... beside it")
    return read_csv(args.csv)


def read_csv(path: Path) -> list[DeviceSpec]:
    """Every device of a CSV file (a header row `thing,type,name,district,lat,lon`; name,
    district, lat and lon may be empty). Checked whole before anything is provisioned: every
    problem is reported with its line number."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_CSV_BYTES + 1)  # `--csv /dev/zero` ends
        text = data.decode("utf-8-sig")
    except OSError as e:
        raise SpecError(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8") from None
    if len(data) > MAX_CSV_BYTES:
        raise SpecError(f"{path}: over {MAX_CSV_BYTES // 1024 // 1024} MB; split it")
    reader = csv.DictReader(io.StringIO(text), strict=True)
    try:
        return _read_rows(path, reader)
    except csv.Error as e:  # a cell over the csv module's limit, a quote left open
        raise SpecError(f"{path}: after line {reader.line_num}: not CSV this reads: {e}") from None


def _read_rows(path: Path, reader: csv.DictReader[str]) -> list[DeviceSpec]:
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("thing", "type") if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    twice = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or twice:
        raise SpecError(
            f"{path}: the header is {','.join(CSV_COLUMNS)} "
            f"(missing: {missing or 'none'}, unknown: {unknown or 'none'}, "
            f"named twice: {twice or 'none'})"
        )
    specs: list[DeviceSpec] = []
    problems: list[str] = []
    seen: set[str] = set()
    for row in reader:
        if len(specs) + len(problems) > MAX_CSV_DEVICES:
            problems.append(f"{path}: at most {MAX_CSV_DEVICES} devices per file")
            break
        where = f"{path}:{reader.line_num}"
        values = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
        if None in row:
            problems.append(f"{where}: more fields than the header has")
            continue
        if not any(values.values()):
            continue
        try:
            spec = make_spec(
                values.get("thing"),
                values.get("type"),
                values.get("name") or None,
                values.get("district") or None,
                values.get("lat") or None,
                values.get("lon") or None,
            )
        except SpecError as e:
            problems.append(f"{where}: {e}")
            continue
        if spec.thing in seen:
            problems.append(f"{where}: {spec.thing} is listed twice")
        seen.add(spec.thing)
        specs.append(spec)
    if problems:
        raise SpecError("\n".join(problems))
    if not specs:
        raise SpecError(f"{path}: no devices")
    return specs


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
    """The thing, of its type, in its type's group, its district as an attribute. A thing
    that exists as another type is refused (SpecError): its type is its policy, and its
    certificates and registry row would be left with the other one."""
    _refuse_another_type(iot, spec, prefix)
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


def _refuse_another_type(iot: Any, spec: DeviceSpec, prefix: str) -> None:
    try:
        found = iot.describe_thing(thingName=spec.thing)
    except iot.exceptions.ResourceNotFoundException:
        return
    wanted = iot_names.thing_type_name(spec.device_type, prefix)
    current = found.get("thingTypeName")
    if current and current != wanted:
        raise SpecError(
            f"{spec.thing} exists as a {current.removeprefix(prefix + '-')} (thing type "
            f"{current}); a {spec.device_type} needs an id of its own"
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


def index_locations(city: str) -> dict[str, int]:
    """Put every state row of the city in the location index (`by-geo`, "near me"): the rows
    written before it existed get their geohash. Idempotent; by type, how many it wrote."""
    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet

    store = DynamoDbFleet(city)
    return {kind: store.index_locations(kind) for kind in policies.DEVICE_TYPES}


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
    return Provisioned(spec.thing, cert_arn, folder, config_file, key_file, cert_file, spec)
