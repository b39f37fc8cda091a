"""The local CA: certificates chain to it, are reused, and keys stay private."""

from __future__ import annotations

import ipaddress
import stat

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.local import pki


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_device_and_server_certs_verify_against_the_ca(tmp_path):
    # GIVEN a fresh CA
    ca = pki.ensure_ca(tmp_path)

    # WHEN a device and a server certificate are issued
    device = pki.ensure_cert(tmp_path, ca, "robot-001")
    server = pki.ensure_cert(tmp_path, ca, "mqtt-broker", server=True)

    # THEN both chain to the CA, with the CN as identity and the right purposes
    ca_cert = _cert(ca.cert_file)
    for paths in (device, server):
        _cert(paths.cert_file).verify_directly_issued_by(ca_cert)
    assert device.cert_file == tmp_path / "robot-001.pem"
    assert device.key_file == tmp_path / "robot-001.key"
    dev = _cert(device.cert_file)
    assert dev.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "robot-001"
    eku = dev.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    sans = (
        _cert(server.cert_file)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)


def test_second_call_reuses_ca_and_certs(tmp_path):
    # GIVEN a CA and a device certificate
    ca = pki.ensure_ca(tmp_path)
    first = pki.ensure_cert(tmp_path, ca, "robot-001")
    ca_bytes, cert_bytes = ca.cert_file.read_bytes(), first.cert_file.read_bytes()

    # WHEN both are ensured again
    ca2 = pki.ensure_ca(tmp_path)
    second = pki.ensure_cert(tmp_path, ca2, "robot-001")

    # THEN nothing was reissued
    assert ca2 == ca and second == first
    assert ca.cert_file.read_bytes() == ca_bytes
    assert first.cert_file.read_bytes() == cert_bytes


def test_cert_from_a_replaced_ca_is_reissued(tmp_path):
    # GIVEN a device certificate whose CA was then lost and recreated
    ca = pki.ensure_ca(tmp_path)
    old = pki.ensure_cert(tmp_path, ca, "robot-001").cert_file.read_bytes()
    ca.key_file.unlink()
    ca = pki.ensure_ca(tmp_path)

    # WHEN the certificate is ensured
    paths = pki.ensure_cert(tmp_path, ca, "robot-001")

    # THEN it is a new one, issued by the new CA
    assert paths.cert_file.read_bytes() != old
    _cert(paths.cert_file).verify_directly_issued_by(_cert(ca.cert_file))


def test_key_files_are_private(tmp_path):
    # GIVEN / WHEN a CA and a certificate
    ca = pki.ensure_ca(tmp_path)
    device = pki.ensure_cert(tmp_path, ca, "robot-001")

    # THEN only the owner can read the keys
    for key in (ca.key_file, device.key_file):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_common_name_cannot_escape_the_folder(tmp_path):
    # GIVEN a CA
    ca = pki.ensure_ca(tmp_path)

    # WHEN / THEN a path-like or reserved CN is refused
    for bad in ("../x", "a/b", "ca", ""):
        try:
            pki.ensure_cert(tmp_path, ca, bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")
