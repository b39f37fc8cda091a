"""A local certificate authority for the local stack's MQTT broker and devices.

Stands in for AWS IoT's device certificates: one CA per state folder, one server certificate
for the broker (SANs 127.0.0.1 and localhost) and one client certificate per device whose
common name is the device id (the broker uses it as the identity).

Keys are EC P-256 (accepted by mosquitto's OpenSSL and by awscrt's s2n/TLS client).

Layout: `<certs_dir>/ca.pem`, `<certs_dir>/ca.key`, `<certs_dir>/<cn>.pem`, `<certs_dir>/<cn>.key`.
Everything is reused when present and valid, so repeated `up` runs keep device credentials.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from iot.files import write_file

CA_NAME = "Gimhae Smart City local CA"
CA_DAYS = 3650
LEAF_DAYS = 397
MIN_REMAINING = dt.timedelta(days=1)
SERVER_SANS = ("127.0.0.1", "localhost")

_CN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # fullmatch: `$` lets "\n" in


@dataclass(frozen=True)
class CertPaths:
    cert_file: Path
    key_file: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load(paths: CertPaths) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The certificate and its key, or None when missing, unreadable or not a matching pair."""
    try:
        cert = x509.load_pem_x509_certificate(paths.cert_file.read_bytes())
        key = serialization.load_pem_private_key(paths.key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if key.public_key().public_numbers() != _ec_public(cert):
        return None
    return cert, key


def _ec_public(cert: x509.Certificate) -> ec.EllipticCurvePublicNumbers | None:
    pub = cert.public_key()
    return pub.public_numbers() if isinstance(pub, ec.EllipticCurvePublicKey) else None


def _fresh(cert: x509.Certificate) -> bool:
    now = _now()
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > MIN_REMAINING


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _san_entries(sans: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in dict.fromkeys(sans):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def ensure_ca(certs_dir: Path) -> CertPaths:
    """The local CA (`ca.pem`, `ca.key`), created once and reused while valid."""
    certs_dir = Path(certs_dir)
    certs_dir.mkdir(parents=True, exist_ok=True)
    paths = CertPaths(certs_dir / "ca.pem", certs_dir / "ca.key")
    loaded = _load(paths)
    if loaded is not None:
        cert, _ = loaded
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if is_ca and _fresh(cert):
            return paths

    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    write_file(paths.key_file, _key_pem(key), 0o600)
    write_file(paths.cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths


def _issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _leaf_ok(
    cert: x509.Certificate, ca_cert: x509.Certificate, cn: str, server: bool, sans: list[str]
) -> bool:
    if _common_name(cert) != cn or not _fresh(cert) or not _issued_by(cert, ca_cert):
        return False
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    wanted = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    if wanted not in eku:
        return False
    if sans:
        try:
            have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        if not set(_san_entries(sans)) <= set(have):
            return False
    return True


def ensure_cert(
    certs_dir: Path,
    ca: CertPaths,
    common_name: str,
    *,
    server: bool = False,
    sans: Iterable[str] = (),
) -> CertPaths:
    """A certificate for `common_name` issued by `ca`, reused while valid.

    Client certificates (the default) carry clientAuth; `server=True` gives serverAuth and the
    SANs 127.0.0.1 and localhost plus `sans`.
    """
    if not _CN_RE.fullmatch(common_name) or common_name == "ca":
        raise ValueError(f"invalid certificate common name {common_name!r}")
    certs_dir = Path(certs_dir)
    certs_dir.mkdir(parents=True, exist_ok=True)
    ca_loaded = _load(ca)
    if ca_loaded is None:
        raise ValueError(f"CA certificate or key unreadable: {ca.cert_file}")
    ca_cert, ca_key = ca_loaded
    all_sans = [*SERVER_SANS, *sans] if server else list(sans)
    paths = CertPaths(certs_dir / f"{common_name}.pem", certs_dir / f"{common_name}.key")
    loaded = _load(paths)
    if loaded is not None and _leaf_ok(loaded[0], ca_cert, common_name, server, all_sans):
        return paths

    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if all_sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_san_entries(all_sans)), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    write_file(paths.key_file, _key_pem(key), 0o600)
    write_file(paths.cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths
