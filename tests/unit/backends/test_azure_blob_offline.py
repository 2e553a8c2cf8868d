"""AzureBlobBackend without a server: config, error classes, streaming helpers."""

from __future__ import annotations

import io
import time

import pytest

from hdh_migrate.backends import azure_blob
from hdh_migrate.backends.azure_blob import AzureBlobBackend, LeaseConflictError, classify
from hdh_migrate.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    RetryableError,
    ThrottledError,
    UnreachableError,
    UsageError,
)
from tests.support.net import free_port

KEY = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ=="


def closed_backend(**extra: object) -> AzureBlobBackend:
    url = f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    config = {"container": "c", "account_url": url, "credential": KEY, "sdk_retries": 0}
    return AzureBlobBackend.from_config({**config, **extra})


@pytest.mark.parametrize(
    "status,code,expected",
    [
        (404, "BlobNotFound", NotFoundError),
        (404, "ContainerNotFound", NotFoundError),
        (412, "ConditionNotMet", PreconditionFailedError),
        (409, "BlobAlreadyExists", PreconditionFailedError),
        (412, "LeaseIdMissing", LeaseConflictError),
        (409, "LeaseAlreadyPresent", LeaseConflictError),
        (403, "AuthorizationFailure", AuthError),
        (401, None, AuthError),
        (503, "ServerBusy", ThrottledError),
        (429, None, ThrottledError),
        (500, "InternalError", RetryableError),
        (408, None, RetryableError),
        (416, "InvalidRange", PermanentError),
        (409, "BlobArchived", PermanentError),
        (400, "InvalidMetadata", PermanentError),
    ],
)
def test_classify(status: int, code: str | None, expected: type) -> None:
    assert classify(status, code) is expected


def test_lease_conflict_is_a_precondition_failure() -> None:
    assert issubclass(LeaseConflictError, PreconditionFailedError)


def test_missing_container_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="container"):
        AzureBlobBackend.from_config({"connection_string": "x"})


def test_connection_string_and_account_url_together_are_refused() -> None:
    config = {"container": "c", "connection_string": "a", "account_url": "http://h"}
    with pytest.raises(UsageError, match="not both"):
        AzureBlobBackend.from_config(config)


def test_malformed_connection_string_is_a_usage_error_without_its_text() -> None:
    with pytest.raises(UsageError) as info:
        AzureBlobBackend.from_config({"container": "c", "connection_string": "not-a-secret-x"})
    assert "not-a-secret-x" not in info.value.one_line()


def test_name_names_account_and_container_but_never_the_key() -> None:
    backend = closed_backend()
    assert backend.name == "azure://devstoreaccount1/c"
    assert KEY not in repr(backend) and KEY not in backend.name


def test_account_name_from_a_public_host() -> None:
    assert azure_blob._account_from_url("https://acct1.blob.core.windows.net") == "acct1"
    assert azure_blob._account_from_url("http://localhost:10000/dev/") == "dev"


def test_secret_reference_is_revealed_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("HDH_TEST_AZ_KEY", KEY)
    url = f"http://127.0.0.1:{free_port()}/acct"
    ref = "${env:HDH_TEST_AZ_KEY}"
    backend = AzureBlobBackend.from_config(
        {"container": "c", "account_url": url, "credential": ref}
    )
    assert backend.name == "azure://acct/c"


def test_unset_secret_reference_is_a_secret_error() -> None:
    from hdh_migrate.errors import SecretError

    config = {"container": "c", "connection_string": "${env:HDH_TEST_SURELY_UNSET_42}"}
    with pytest.raises(SecretError):
        AzureBlobBackend.from_config(config)


def test_connection_refused_before_any_answer_is_unreachable() -> None:
    backend = closed_backend()
    started = time.monotonic()
    with pytest.raises(UnreachableError) as info:
        backend.stat("k")
    assert time.monotonic() - started < 10
    assert KEY not in info.value.one_line() and "devstoreaccount1/c" in info.value.one_line()
    with pytest.raises(UnreachableError):
        list(backend.list())


def test_connection_refused_after_an_answer_is_retryable() -> None:
    backend = closed_backend()
    backend._reached = True  # as after any successful request
    with pytest.raises(RetryableError):
        backend.stat("k")


def test_invalid_range_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError):
        closed_backend().open_read("k", range=(5, 4))


def test_unsupported_checksum_is_refused() -> None:
    from hdh_migrate.backends.base import WriteOptions

    opts = WriteOptions(checksums={"sha256": "x"})
    with pytest.raises(PermanentError, match="sha256"):
        closed_backend().write("k", io.BytesIO(b"a"), 1, opts)


def test_block_size_grows_to_fit_the_block_limit() -> None:
    from hdh_migrate.backends.base import WriteOptions

    backend = closed_backend(block_size="1MiB")
    size = azure_blob.MAX_BLOCKS * 2 * 1024 * 1024 + 1
    wanted = backend._block_size(size, WriteOptions(), "k")
    assert -(-size // wanted) <= azure_blob.MAX_BLOCKS
    with pytest.raises(PermanentError):
        backend._block_size(size, WriteOptions(part_size=1024 * 1024), "k")
