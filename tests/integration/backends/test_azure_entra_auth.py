"""Microsoft Entra ID on a real Azure Blob service: the stack's HTTPS Azurite (``--oauth
basic``) read with bearer tokens from azure-identity's managed-identity flow, pointed at a
loopback token endpoint. Tokens that expire mid-run are renewed; a revoked identity is
exit 7 with the identity named."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import AuthError, HdhError, UsageError
from tests import token_endpoint

pytestmark = pytest.mark.stack


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[token_endpoint.TokenEndpoint]:
    """A managed identity whose tokens come from a loopback endpoint (no IMDS, no network)."""
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with token_endpoint.serving() as endpoint:
        monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
        monkeypatch.setenv("IDENTITY_HEADER", endpoint.header)
        yield endpoint


@pytest.fixture
def container(stack: Any, unique_name: str) -> Iterator[Any]:
    """A container with two blobs, made with the account key (as the exporter would)."""
    owner = open_backend(
        "azure_blob",
        {
            "container": unique_name,
            "connection_string": stack.azurite_https_connection_string,
            "ca_bundle": str(stack.ca_bundle),
        },
    )
    owner.ensure_container()  # type: ignore[attr-defined]
    for key in ("a.csv", "b.csv"):
        owner.write(key, io.BytesIO(key.encode()), len(key))
    yield owner
    owner.delete_container()  # type: ignore[attr-defined]


def reader(stack: Any, name: str, kind: str = "managed_identity", **extra: Any) -> Any:
    config = {
        "container": name,
        "account_url": stack.azurite_https_account_url,
        "auth": kind,
        "ca_bundle": str(stack.ca_bundle),
        "sdk_retries": 0,
        **extra,
    }
    return open_backend("azure_blob", config)


@pytest.mark.parametrize("kind", ["managed_identity", "default"])
def test_a_managed_identity_reads_the_container(
    stack: Any, unique_name: str, container: Any, identity: Any, kind: str
) -> None:
    store = reader(stack, unique_name, kind)
    assert [info.key for info in store.list()] == ["a.csv", "b.csv"]
    assert store.open_read("b.csv").read() == b"b.csv"
    assert identity.issued >= 1


def test_without_a_token_the_server_refuses(stack: Any, unique_name: str, container: Any) -> None:
    """The control: Azurite really checks authorization (anonymous access is refused)."""
    anonymous = open_backend(
        "azure_blob",
        {
            "container": unique_name,
            "account_url": stack.azurite_https_account_url,
            "ca_bundle": str(stack.ca_bundle),
        },
    )
    with pytest.raises(HdhError) as caught:
        list(anonymous.list())
    assert isinstance(caught.value, AuthError), caught.value.one_line()


def test_a_token_that_expires_mid_run_is_renewed(
    stack: Any, unique_name: str, container: Any, identity: Any
) -> None:
    identity.lifetime = 3  # seconds: each token dies between two reads
    store = reader(stack, unique_name)
    for _ in range(3):
        assert store.open_read("a.csv").read() == b"a.csv"
        time.sleep(3.5)
    assert [info.key for info in store.list()] == ["a.csv", "b.csv"]
    assert identity.issued >= 3


def test_a_revoked_identity_is_exit_7_naming_it(
    stack: Any, unique_name: str, container: Any, identity: Any
) -> None:
    identity.lifetime = 3
    store = reader(stack, unique_name, client_id="a7a7a7a7-0000-0000-0000-000000000001")
    assert store.open_read("a.csv").read() == b"a.csv"
    identity.revoked = True
    time.sleep(3.5)  # the token in hand has expired: the next read needs a new one
    with pytest.raises(HdhError) as caught:
        store.open_read("a.csv")
    error = caught.value
    assert isinstance(error, AuthError) and error.exit_code == 7, error.one_line()
    line = error.one_line()
    assert "managed identity (client_id a7a7a7a7-0000-0000-0000-000000000001)" in line
    assert "\n" not in line and "eyJ" not in line  # no token in the message


def test_entra_kinds_refuse_plain_http(stack: Any, unique_name: str) -> None:
    with pytest.raises(UsageError, match="Entra ID tokens are only sent over https"):
        list(
            open_backend(
                "azure_blob",
                {
                    "container": unique_name,
                    "account_url": stack.azurite_account_url,
                    "auth": "managed_identity",
                    "sdk_retries": 0,
                },
            ).list()
        )


# -- service principals: a loopback HTTPS authority (OpenID discovery + client credentials) --

SP_CLIENT = "5e5e5e5e-0000-0000-0000-00000000c11e"


def client_certificate(tmp_path: Any) -> tuple[Any, str]:
    """A self-signed certificate with its RSA key in one PEM file, as an app registration's."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hdh-migrate-sp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "sp.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    return cert, str(path)


@pytest.fixture
def authority(stack: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An authority that knows SP_CLIENT by a secret and by a certificate; the client trusts
    its server certificate through REQUESTS_CA_BUNDLE (azure-identity's own transport)."""
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "IDENTITY_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stack.ca_bundle))
    monkeypatch.setenv("HDH_T_SP_SECRET", "sp-secret-value")
    cert, path = client_certificate(tmp_path)
    tls_dir = stack.ca_bundle.parent
    with token_endpoint.authority(
        str(tls_dir / "server.pem"), str(tls_dir / "server.key"), SP_CLIENT, "sp-secret-value", cert
    ) as server:
        server.certificate_path = path
        yield server


def principal(stack: Any, name: str, server: Any, **credential: Any) -> Any:
    return reader(
        stack,
        name,
        "service_principal",
        tenant_id=token_endpoint.TENANT,
        client_id=SP_CLIENT,
        authority=server.url,
        **credential,
    )


def test_a_service_principal_with_a_secret_reads_and_renews(
    stack: Any, unique_name: str, container: Any, authority: Any
) -> None:
    from hdh_migrate.secrets import SecretRef

    authority.lifetime = 3
    store = principal(
        stack, unique_name, authority, client_secret=SecretRef("env", "HDH_T_SP_SECRET")
    )
    assert [info.key for info in store.list()] == ["a.csv", "b.csv"]
    time.sleep(3.5)  # the token in hand has expired
    assert store.open_read("a.csv").read() == b"a.csv"
    assert authority.grants[:2] == ["secret", "secret"]


def test_a_service_principal_with_a_certificate_reads(
    stack: Any, unique_name: str, container: Any, authority: Any
) -> None:
    store = principal(stack, unique_name, authority, certificate=authority.certificate_path)
    assert store.open_read("b.csv").read() == b"b.csv"
    assert authority.grants == ["certificate"]


def test_a_refused_service_principal_is_exit_7_naming_it(
    stack: Any, unique_name: str, container: Any, authority: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hdh_migrate.secrets import SecretRef

    monkeypatch.setenv("HDH_T_SP_SECRET", "a-wrong-secret")
    store = principal(
        stack, unique_name, authority, client_secret=SecretRef("env", "HDH_T_SP_SECRET")
    )
    with pytest.raises(HdhError) as caught:
        list(store.list())
    error = caught.value
    assert isinstance(error, AuthError) and error.exit_code == 7, error.one_line()
    line = error.one_line()
    assert f"service principal (client_id {SP_CLIENT}, tenant_id {token_endpoint.TENANT})" in line
    assert "a-wrong-secret" not in line and "\n" not in line
    assert authority.issued == 0
