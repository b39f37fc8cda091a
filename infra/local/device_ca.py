"""The local CA signing a device's CSR: the local stand-in for IoT's CreateCertificateFromCsr.

The device keeps its private key; only the CSR comes here, and the certificate goes back. The
certificate's CN is the thing name (the broker's identity and client id), so a CSR asking
for another name is refused rather than signed for the wrong identity.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.local.broker import BACKEND_IDENTITY, DATA_PLANE_IDENTITY
from infra.local.pki import LEAF_DAYS, CertPaths
from iot.provisioning import Issuer

THING_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
SERVICE_IDENTITIES = frozenset({BACKEND_IDENTITY, DATA_PLANE_IDENTITY})
"""The broker's own users (`use_identity_as_username`: the CN is the user): a device with
one of these names would get the backend's ACL, every topic, and could forge any robot's
acks or any shadow."""


class CsrRefused(ValueError):
    """The CSR is unsigned, badly signed, or names another identity."""


def sign_device_csr(ca: CertPaths, csr_pem: str, thing_name: str) -> str:
    """A client certificate (PEM) for the CSR's key, CN = `thing_name`, issued by the local CA."""
    if not THING_NAME.fullmatch(thing_name):  # fullmatch: a "\n" must not ride along
        raise CsrRefused(f"{thing_name[:140]!r} is not a thing name")
    if thing_name in SERVICE_IDENTITIES:
        raise CsrRefused(f"{thing_name!r} is the broker's own identity, not a device's")
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise CsrRefused(f"not a PEM CSR: {exc}") from exc
    if not csr.is_signature_valid:
        raise CsrRefused("the CSR's signature does not match its key")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or names[0].value != thing_name:
        raise CsrRefused(f"the CSR must name the thing {thing_name!r} as its CN")
    ca_cert = x509.load_pem_x509_certificate(Path(ca.cert_file).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(ca.key_file).read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise CsrRefused("the local CA key is not an EC key")
    now = dt.datetime.now(dt.UTC)
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CsrRefused("device keys are EC P-256")
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def local_ca_issuer(iot: Any, ca: CertPaths, thing: str) -> Issuer:
    """The local CA signs the CSR (the broker trusts it) and moto registers the certificate,
    as the stack registers its fleet's: the issuer iot/provisioning.py is given locally."""

    def issue(csr: str) -> tuple[str, str]:
        pem = sign_device_csr(ca, csr, thing)
        made = iot.register_certificate_without_ca(certificatePem=pem, status="ACTIVE")
        return str(made["certificateArn"]), pem

    return issue
