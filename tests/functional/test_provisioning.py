"""Provisioning a device (iot/provisioning.py) on moto: thing, certificate from a CSR whose
key stays in the device's folder, policy, registry rows; and the running stack's grant."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from chalicelib import config
from chalicelib.adapters.dynamodb_models import Device, DeviceState
from infra.local import pki, provision
from infra.local.broker import Broker
from infra.local.device_ca import CsrRefused, local_ca_issuer, sign_device_csr
from infra.local.device_requests import (
    ProvisionedDeviceWatcher,
    known_devices,
    request_access,
)
from iot import iot_names, policies
from iot.provisioning import (
    DeviceSpec,
    SpecError,
    aws_csr_issuer,
    create_device_types,
    make_key_and_csr,
    register_thing,
    write_config,
)

REGION = "ap-northeast-2"


@pytest.fixture
def iot(aws: dict[str, Any]) -> Any:
    client = boto3.client("iot", region_name=REGION)
    create_device_types(client, config.resource_prefix())  # as the stack creates them
    for device_type in policies.DEVICE_TYPES:
        client.create_policy(
            policyName=policies.policy_name(device_type, config.resource_prefix()),
            policyDocument=json.dumps(policies.policy_document(device_type, "gimhae")),
        )
    return client


def _public_numbers(pem: bytes) -> Any:
    return x509.load_pem_x509_certificate(pem).public_key().public_numbers()  # type: ignore[union-attr]


def test_a_robot_provisioned_locally_holds_its_key_and_is_registered(
    iot: Any, tmp_path: Path
) -> None:
    # GIVEN the local CA and a new robot's folder
    ca = pki.ensure_ca(tmp_path / "certs")
    folder = tmp_path / "devices" / "robot-201"
    spec = DeviceSpec("robot-201", "robot", "naeoe-dong")
    # WHEN it is provisioned
    arn, key_file, cert_file = register_thing(
        iot, spec, folder, local_ca_issuer(iot, ca, spec.thing), config.resource_prefix()
    )
    provision.register_devices({"city": "gimhae", "devices": [spec.registry_row()]})
    # THEN the key is the device's alone, and the certificate is for that key, by the CA
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert _public_numbers(cert_file.read_bytes()) == key.public_key().public_numbers()  # type: ignore[union-attr]
    issued = x509.load_pem_x509_certificate(cert_file.read_bytes())
    issued.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_file.read_bytes()))
    # AND IoT knows the thing, its certificate and the robot policy on it
    prefix = config.resource_prefix()
    thing = iot.describe_thing(thingName="robot-201")
    assert thing["thingTypeName"] == iot_names.thing_type_name("robot", prefix) == f"{prefix}-robot"
    group = iot.list_things_in_thing_group(
        thingGroupName=iot_names.thing_group_name("robot", prefix)
    )
    assert group["things"] == ["robot-201"]
    assert iot.list_thing_principals(thingName="robot-201")["principals"] == [arn]
    attached = iot.list_attached_policies(target=arn)["policies"]
    assert [p["policyName"] for p in attached] == [
        policies.policy_name("robot", config.resource_prefix())
    ]
    # AND the city's registry has it (deposits are credited; it shows in the fleet)
    assert Device.get("robot-201").district == "naeoe-dong"
    assert DeviceState.get("robot-201").fleet_group == "gimhae#robot"


def test_aws_signs_the_csr_and_the_key_never_leaves(iot: Any, tmp_path: Path) -> None:
    spec = DeviceSpec("shelter-201", "shelter", "naeoe-dong")
    sent: list[str] = []
    issue = aws_csr_issuer(iot)

    def watching(csr: str) -> tuple[str, str]:
        sent.append(csr)
        return issue(csr)

    arn, key_file, cert_file = register_thing(
        iot, spec, tmp_path / "shelter-201", watching, config.resource_prefix()
    )
    # what left the folder is a CSR, never the private key
    assert len(sent) == 1 and "PRIVATE KEY" not in sent[0] and "CERTIFICATE REQUEST" in sent[0]
    # (moto's CreateCertificateFromCsr makes a certificate for a key of its own, so the
    # key match is checked on the local path above; AWS issues it for the CSR's key)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and cert_file.exists()
    assert (
        iot.describe_certificate(certificateId=arn.rsplit("/", 1)[1])["certificateDescription"][
            "status"
        ]
        == "ACTIVE"
    )


def test_the_local_ca_signs_only_for_the_thing_named(tmp_path: Path) -> None:
    ca = pki.ensure_ca(tmp_path / "certs")
    _, csr = make_key_and_csr(tmp_path / "robot-301", "robot-301")
    with pytest.raises(CsrRefused):
        sign_device_csr(ca, csr, "robot-001")  # someone else's identity
    with pytest.raises(CsrRefused):
        sign_device_csr(ca, "not a csr", "robot-301")


def test_a_reprovisioning_keeps_the_devices_key(tmp_path: Path) -> None:
    first, _ = make_key_and_csr(tmp_path / "d", "robot-302")
    before = first.read_bytes()
    second, _ = make_key_and_csr(tmp_path / "d", "robot-302")
    assert second.read_bytes() == before


def test_the_config_file_is_readable_and_the_key_is_not(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"device_id": "robot-303"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert json.loads(path.read_text())["device_id"] == "robot-303"


def test_the_running_stack_grants_a_provisioned_device_its_topics(tmp_path: Path) -> None:
    # GIVEN a stack's broker (not started: its ACL file is what mosquitto would reload)
    broker = Broker(tmp_path, 1, tmp_path / "ca.pem", tmp_path / "s.pem", tmp_path / "s.key", [])
    broker.write_config()
    granted: list[str] = []

    def grant(record: dict[str, Any]) -> None:
        from infra.local.broker import fleet_grants

        broker.add_devices(fleet_grants([(record["device_id"], record["type"])], "gimhae"))
        granted.append(record["device_id"])

    watcher = ProvisionedDeviceWatcher(tmp_path, grant, poll_s=0.02)
    watcher.start()
    try:
        # WHEN provisioning asks for access
        record = {"device_id": "robot-401", "type": "robot", "cert_file": "c", "key_file": "k"}
        request_access(tmp_path, record, timeout=5)
    finally:
        watcher.stop()
    # THEN the ACL lets it publish deposits under its own id only, once
    acl = broker.acl_file.read_text()
    assert "user robot-401\ntopic write gimhae/robots/robot-401/deposits\n" in acl
    assert granted == ["robot-401"]
    # AND the next start of the stack knows it
    assert [r["device_id"] for r in known_devices(tmp_path)] == ["robot-401"]


def test_no_running_stack_is_a_clear_timeout(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match="no running local stack"):
        request_access(tmp_path, {"device_id": "robot-402", "type": "robot"}, timeout=0.2)


def test_provisioning_a_thing_again_gives_it_a_new_certificate_for_the_same_key(
    iot: Any, tmp_path: Path
) -> None:
    ca = pki.ensure_ca(tmp_path / "certs")
    spec = DeviceSpec("robot-202", "robot", "naeoe-dong")
    folder = tmp_path / "robot-202"
    prefix = config.resource_prefix()
    first, key_file, _ = register_thing(
        iot, spec, folder, local_ca_issuer(iot, ca, "robot-202"), prefix
    )
    key = key_file.read_bytes()
    second, _, _ = register_thing(iot, spec, folder, local_ca_issuer(iot, ca, "robot-202"), prefix)
    assert first != second and key_file.read_bytes() == key
    assert set(iot.list_thing_principals(thingName="robot-202")["principals"]) == {first, second}


def test_a_thing_of_another_type_is_refused_before_anything_changes(
    iot: Any, tmp_path: Path
) -> None:
    """A shelter re-provisioned as a robot would get the robot policy on a new certificate
    while its old one keeps the shelter's: one id, two types. Refused, nothing created."""
    ca = pki.ensure_ca(tmp_path / "certs")
    prefix = config.resource_prefix()
    shelter = DeviceSpec("shelter-203", "shelter", "naeoe-dong")
    first, _, _ = register_thing(
        iot, shelter, tmp_path / "s", local_ca_issuer(iot, ca, "shelter-203"), prefix
    )
    robot = DeviceSpec("shelter-203", "robot", "naeoe-dong")
    with pytest.raises(SpecError, match=r"exists as a shelter.*a robot needs an id of its own"):
        register_thing(iot, robot, tmp_path / "r", local_ca_issuer(iot, ca, "shelter-203"), prefix)
    assert iot.list_thing_principals(thingName="shelter-203")["principals"] == [first]
    assert not (tmp_path / "r").exists()
    groups = iot.list_thing_groups_for_thing(thingName="shelter-203")["thingGroups"]
    assert [g["groupName"] for g in groups] == [iot_names.thing_group_name("shelter", prefix)]


def test_a_csv_file_provisions_each_device_in_aws_with_its_place(
    iot: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet
    from iot.__main__ import main

    # GIVEN a maker's CSV file of two devices
    devices = tmp_path / "devices.csv"
    devices.write_text(
        "thing,type,name,district,lat,lon\n"
        "shelter-301,shelter,장유 스마트쉼터,jangyu1-dong,35.1960,128.8080\n"
        "robot-301,robot,,,,\n",
        encoding="utf-8",
    )
    # WHEN it is provisioned in AWS, as typed
    aws = ["--endpoint", "example-ats.iot.aws", "--ca-file", str(tmp_path / "AmazonRootCA1.pem")]
    code = main(
        ["provision", "--aws", "--csv", str(devices), *aws, "--folder", str(tmp_path / "c")]
    )
    # THEN each device has its thing, its folder and its config, one JSON line each
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["thing"], d["name"], d["district"]) for d in lines] == [
        ("shelter-301", "장유 스마트쉼터", "jangyu1-dong"),
        ("robot-301", "robot-301", "naeoe-dong"),
    ]
    for thing in ("shelter-301", "robot-301"):
        assert iot.describe_thing(thingName=thing)["thingName"] == thing
        assert (tmp_path / "c" / thing / "config.json").is_file()
    # AND the city's registry and the fleet list know the shelter where it stands
    assert (Device.get("shelter-301").lat, Device.get("shelter-301").lon) == (35.196, 128.808)
    (listed,) = DynamoDbFleet("gimhae").devices("shelter", "jangyu1-dong")
    assert (listed.device_id, listed.name) == ("shelter-301", "장유 스마트쉼터")
    assert DeviceState.get("robot-301").district == "naeoe-dong"
