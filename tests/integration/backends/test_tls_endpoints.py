"""HTTPS against real servers: the stack's SeaweedFS and Azurite over TLS (private CA), and
rclone / Azurite started here with an expired or wrongly named certificate.

Every refusal is a one-line CertificateError (exit 7) naming the reason; nothing falls back
to plain HTTP or to an unverified connection.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tls_servers import serving

from devstack import tls
from devstack.services.azurite import connection_string
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import CertificateError, HdhError, UnreachableError, UsageError

pytestmark = pytest.mark.stack

NOW = dt.datetime.now(dt.UTC)


def s3(stack: Any, endpoint: str, bucket: str, **extra: Any) -> Any:
    config = {
        "endpoint_url": endpoint,
        "bucket": bucket,
        "access_key": stack.s3_access_key,
        "secret_key": stack.s3_secret_key,
        "connect_timeout": 5,
        **extra,
    }
    return open_backend("s3", config)


def azure(account_url: str, container: str, **extra: Any) -> Any:
    config = {"container": container, "connection_string": connection_string(account_url)}
    return open_backend("azure_blob", {**config, **extra})


def backend(kind: str, stack: Any, url: str, name: str, **extra: Any) -> Any:
    return s3(stack, url, name, **extra) if kind == "s3" else azure(url, name, **extra)


def https_url(kind: str, stack: Any) -> str:
    return stack.s3_https_endpoint if kind == "s3" else stack.azurite_https_account_url


def refusal(backend: Any) -> HdhError:
    """The error of a first request (a listing); fails the test if the request succeeds."""
    with pytest.raises(HdhError) as caught:
        list(backend.list())
    return caught.value


def assert_certificate_refused(error: HdhError, reason: str) -> None:
    assert isinstance(error, CertificateError), error.one_line()
    assert error.exit_code == 7
    line = error.one_line()
    assert "\n" not in line and "TLS certificate is not trusted" in line
    assert reason in line, line
    assert "ca_bundle" in line  # the hint names the fix


@pytest.fixture(scope="module")
def authority(stack: Any) -> tls.Authority:
    return tls.load_authority(stack.dir)


@pytest.fixture
def wrong_ca(tmp_path: Path) -> Path:
    """A CA that signed nothing the servers present."""
    path = tmp_path / "other-ca.pem"
    tls.write_authority(tls.new_authority("another CA"), path, tmp_path / "other-ca.key")
    return path


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_the_stack_ca_is_accepted_on_both_names(stack: Any, unique_name: str, kind: str) -> None:
    for host in ("127.0.0.1", "localhost"):
        url = https_url(kind, stack).replace("127.0.0.1", host)
        store = backend(kind, stack, url, unique_name, ca_bundle=str(stack.ca_bundle))
        if kind == "s3":
            store.ensure_bucket()
        else:
            store.ensure_container()
        try:
            store.write("k", io.BytesIO(b"over tls"), 8)
            assert store.open_read("k").read() == b"over tls"
            assert [info.key for info in store.list()] == ["k"]
        finally:
            store.delete("k")
            store.delete_bucket(force=True) if kind == "s3" else store.delete_container()


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_a_wrong_ca_is_refused(stack: Any, unique_name: str, kind: str, wrong_ca: Path) -> None:
    store = backend(kind, stack, https_url(kind, stack), unique_name, ca_bundle=str(wrong_ca))
    assert_certificate_refused(refusal(store), "unable to get local issuer certificate")


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_without_ca_bundle_the_system_store_decides(
    stack: Any, unique_name: str, kind: str
) -> None:
    """No ca_bundle is not "no verification": the private CA is unknown to the system."""
    store = backend(kind, stack, https_url(kind, stack), unique_name)
    assert_certificate_refused(refusal(store), "unable to get local issuer certificate")


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_an_expired_certificate_is_refused(
    stack: Any, unique_name: str, kind: str, authority: tls.Authority, tmp_path: Path
) -> None:
    cert, key = tls.issue(
        authority,
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW - dt.timedelta(days=1),
    )
    with serving(kind, cert, key, tmp_path, stack) as url:
        store = backend(kind, stack, url, unique_name, ca_bundle=str(stack.ca_bundle))
        assert_certificate_refused(refusal(store), "certificate has expired")


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_a_certificate_for_another_host_is_refused(
    stack: Any, unique_name: str, kind: str, authority: tls.Authority, tmp_path: Path
) -> None:
    cert, key = tls.issue(authority, ("s3.elsewhere.invalid",))
    with serving(kind, cert, key, tmp_path, stack) as url:
        store = backend(kind, stack, url, unique_name, ca_bundle=str(stack.ca_bundle))
        assert_certificate_refused(refusal(store), "mismatch")


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_the_same_servers_accept_a_good_certificate(
    stack: Any, unique_name: str, kind: str, authority: tls.Authority, tmp_path: Path
) -> None:
    """The servers used above are not broken: with a valid certificate they answer."""
    cert, key = tls.issue(authority)
    with serving(kind, cert, key, tmp_path, stack) as url:
        store = backend(kind, stack, url, unique_name, ca_bundle=str(stack.ca_bundle))
        if kind == "s3":
            store.ensure_bucket()
        else:
            store.ensure_container()
        assert list(store.list()) == []


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_https_to_a_plain_http_port_never_falls_back(
    stack: Any, unique_name: str, kind: str
) -> None:
    plain = stack.s3_endpoint if kind == "s3" else stack.azurite_account_url
    url = plain.replace("http://", "https://")
    error = refusal(backend(kind, stack, url, unique_name, ca_bundle=str(stack.ca_bundle)))
    assert isinstance(error, UnreachableError), error.one_line()
    assert "TLS handshake failed" in error.one_line() and error.exit_code == 8


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_a_ca_bundle_that_is_not_a_certificate_is_a_usage_error(
    stack: Any, unique_name: str, kind: str, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for bundle, reason in ((junk, "no readable PEM certificate"), (tmp_path / "nope", "no such")):
        with pytest.raises(UsageError, match=reason):
            backend(kind, stack, https_url(kind, stack), unique_name, ca_bundle=str(bundle))


def test_devstack_env_exports_the_ca_and_the_https_endpoints(stack: Any) -> None:
    env = {**os.environ, "HDH_DEVSTACK_DIR": str(stack.dir)}
    out = subprocess.run(
        [sys.executable, "-m", "devstack", "env"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in out.splitlines() if "=" in line
    )
    assert exports["HDH_DEVSTACK_CA_BUNDLE"] == str(stack.ca_bundle)
    assert exports["HDH_S3_HTTPS_ENDPOINT"] == stack.s3_https_endpoint
    assert exports["HDH_AZURITE_HTTPS_ACCOUNT_URL"] == stack.azurite_https_account_url
    assert "BlobEndpoint=https://" in exports["HDH_AZURITE_HTTPS_CONNECTION_STRING"]
    assert stack.s3_https_endpoint.startswith("https://127.0.0.1:")
    assert stack.s3_endpoint.startswith("http://")  # plain HTTP stays available
