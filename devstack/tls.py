"""A private CA and the server certificate of the stack's HTTPS endpoints (cryptography).

``ensure(ctx_dir)`` keeps, under the stack directory::

    tls/ca.pem        the CA certificate: the ``ca_bundle:`` of plans that use the stack
    tls/server.pem    the server certificate (127.0.0.1 and localhost), signed by the CA
    creds/ca.key      the CA's private key (0600)
XX

Created once, reused until purge; the server certificate is re-issued when it is missing,
close to expiry, or not signed by the current CA. ``issue()`` also mints the deliberately
wrong certificates of the TLS tests (expired, wrong host name, another CA).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devstack import creds

SERVER_HOSTS = ("127.0.0.1", "localhost")
CA_DAYS = 3650
SERVER_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True)
class Authority:
    """A CA certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the stack's TLS material."""

    ca_bundle: Path
    server_cert: Path
    server_key: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hdh-migrate devstack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def new_authority(common_name: str = "hdh-migrate devstack CA", days: int = CA_DAYS) -> Authority:
    """A fresh self-signed CA (EC P-256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert, key)


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue(
    ca: Authority,
    hosts: tuple[str, ...] = SERVER_HOSTS,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    client: bool = False,
) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) of a server certificate for ``hosts``; with
    ``client`` also for client authentication (mutual TLS: a Dask cluster's nodes)."""
    usages = [ExtendedKeyUsageOID.SERVER_AUTH]
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - dt.timedelta(minutes=5)
    end = not_after or _now() + dt.timedelta(days=SERVER_DAYS)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_authority(ca: Authority, cert_path: Path, key_path: Path) -> None:
    """Write the CA certificate (0644) and its key (0600)."""
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    creds.write_private(key_path, _key_pem(ca.key))


def _load_authority(cert_path: Path, key_path: Path) -> Authority | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc < _now():
        return None
    return Authority(cert, key)


def _server_ok(cert_path: Path, ca: Authority) -> bool:
    """True when the server certificate exists, is signed by ``ca`` and is not near expiry."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cert.verify_directly_issued_by(ca.cert)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def ensure(stack_dir: Path) -> TlsFiles:
    """The CA and server certificate under ``stack_dir``, created or renewed when needed."""
    files = TlsFiles(
        ca_bundle=stack_dir / "tls" / "ca.pem",
        server_cert=stack_dir / "tls" / "server.pem",
        server_key=stack_dir / "tls" / "server.key",  # weed wants it beside the cert
    )
    ca_key = stack_dir / "creds" / "ca.key"
    ca = _load_authority(files.ca_bundle, ca_key)
    if ca is None:
        ca = new_authority()
        write_authority(ca, files.ca_bundle, ca_key)
    if not _server_ok(files.server_cert, ca) or not files.server_key.exists():
        cert_pem, key_pem = issue(ca)
        creds.write_private(files.server_key, key_pem)
        files.server_cert.write_bytes(cert_pem)
    return files


def load_authority(stack_dir: Path) -> Authority:
    """The stack's CA (tests mint wrong certificates with it). Raises if never created."""
    ca = _load_authority(stack_dir / "tls" / "ca.pem", stack_dir / "creds" / "ca.key")
    if ca is None:
        raise FileNotFoundError(f"no devstack CA under {stack_dir}: run `python -m devstack up`")
    return ca
