"""Requests saved per object (issue 12): Expect only for large bodies, Content-MD5 on every
single PUT, the Azure transport off the environment unless it carries proxy/CA settings."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from hdh_migrate.backends.azure_blob import (
    CA_SETTINGS,
    PROXY_SETTINGS,
    AzureBlobBackend,
    uses_environment,
)
from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.backends.checksums import checksum_b64
from hdh_migrate.backends.s3 import EXPECT_CONTINUE_MIN, S3Backend


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def make(**config: Any) -> S3Backend:
    base = {
        "bucket": "hdh-unit",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "secret-example",
        "multipart_threshold": "5MiB",
        "part_size": "5MiB",
        "sdk_attempts": 1,
    }
    backend = S3Backend.from_config(base | config)
    backend.ensure_bucket()
    return backend


def headers_sent(backend: S3Backend) -> list[tuple[str, dict[str, str]]]:
    seen: list[tuple[str, dict[str, str]]] = []

    def grab(request: Any, operation_name: str, **_: Any) -> None:
        seen.append((operation_name, {k.lower(): str(v) for k, v in request.headers.items()}))

    backend.client.meta.events.register("before-sign.s3", grab)
    return seen


def test_expect_continue_only_for_large_bodies(aws: None) -> None:
    b = make(multipart_threshold="64MiB")
    seen = headers_sent(b)
    small, large = b"x" * 1000, b"y" * EXPECT_CONTINUE_MIN
    b.write("small", io.BytesIO(small), len(small))
    assert "expect" not in seen[-1][1]
    b.write("large", io.BytesIO(large), len(large))
    assert seen[-1][1]["expect"] == "100-continue"


def test_single_put_carries_a_content_md5_and_says_so(aws: None) -> None:
    b = make()
    seen = headers_sent(b)
    data = b"ciphertext bytes"
    info = b.write("k", io.BytesIO(data), len(data))
    assert seen[-1][1]["content-md5"] == checksum_b64("md5", data)
    assert info.extra["sent_content_md5"] == "true" and info.etag
    quiet = make(checksum_algorithms=[])
    seen = headers_sent(quiet)
    info = quiet.write("k", io.BytesIO(data), len(data), WriteOptions())
    assert "content-md5" not in seen[-1][1] and "sent_content_md5" not in info.extra


def test_multipart_does_not_claim_a_content_md5(aws: None) -> None:
    b = make()
    data = b"z" * (6 << 20)
    info = b.write("big", io.BytesIO(data), len(data), WriteOptions(part_size=5 << 20))
    assert "sent_content_md5" not in info.extra


@pytest.mark.parametrize(
    "environ,expected",
    [
        ({}, False),
        ({"HOME": "/root", "PATH": "/bin"}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"no_proxy": "localhost"}, True),
        ({"REQUESTS_CA_BUNDLE": "/etc/ca.pem"}, False),
        ({"HTTPS_PROXY": ""}, False),
    ],
)
def test_azure_transport_reads_the_environment_only_when_it_says_something(
    environ: dict[str, str], expected: bool
) -> None:
    assert uses_environment(environ) is expected


def test_azure_session_does_not_trust_env_without_proxy_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.lower() in PROXY_SETTINGS or name in CA_SETTINGS:
            monkeypatch.delenv(name)
    conn = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
    )
    transport = requests_transport(conn)
    assert transport._use_env_settings is False
    config = transport.connection_config  # what the SDK's own transport would have
    assert (config.timeout, config.read_timeout, config.data_block_size) == (20, 60, 256 << 10)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/hdh-test-ca.pem")
    transport = requests_transport(conn)
    assert transport._use_env_settings is False
    assert transport.connection_config.verify == "/etc/hdh-test-ca.pem"  # honoured explicitly
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert requests_transport(conn)._use_env_settings is True


def requests_transport(conn: str) -> Any:
    backend = AzureBlobBackend.from_config({"container": "c", "connection_string": conn})
    transport: Any = backend._container._pipeline._transport
    while not hasattr(transport, "_use_env_settings"):
        transport = transport._transport
    return transport
