"""S3 backend features the generic contract does not cover, on SeaweedFS: SSE-C on single
and multipart writes, stale multipart uploads, checksums refused by the server."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.backends.s3 import S3Backend
from hdh_migrate.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    StorageError,
)

pytestmark = pytest.mark.stack
MIB = 1024 * 1024


def open_s3(stack: Any, bucket: str, **extra: Any) -> S3Backend:
    config = {
        "endpoint_url": stack.s3_endpoint,
        "bucket": bucket,
        "access_key": stack.s3_access_key,
        "secret_key": stack.s3_secret_key,
        "multipart_threshold": "5MiB",
        "part_size": "5MiB",
        "checksum_algorithms": ["md5", "sha256", "crc32c"],
    }
    return S3Backend.from_config(config | extra)


@pytest.fixture
def bucket(stack: Any) -> Iterator[str]:
    name = f"hdh-s3-{uuid.uuid4().hex[:16]}"
    backend = open_s3(stack, name)
    backend.ensure_bucket()
    yield name
    backend.delete_bucket(force=True)


@pytest.mark.parametrize("size", [1000, 11 * MIB + 3], ids=["single", "multipart"])
def test_sse_c_round_trip_and_refusal_without_key(stack: Any, bucket: str, size: int) -> None:
    key = os.urandom(32)
    with_key = open_s3(stack, bucket, sse_c_key=key.hex()[:32])
    data = os.urandom(size)
    with_key.write("secret", io.BytesIO(data), size)
    assert with_key.stat("secret").extra.get("sse_customer_algorithm") == "AES256"
    assert with_key.open_read("secret").read() == data
    assert with_key.open_read("secret", range=(5, 9)).read() == data[5:10]
    without = open_s3(stack, bucket)
    with pytest.raises(StorageError):
        without.open_read("secret").read()
    wrong = open_s3(stack, bucket, sse_c_key=os.urandom(16).hex())
    with pytest.raises(AuthError):
        wrong.open_read("secret").read()


def test_stale_uploads_are_listed_and_aborted(stack: Any, bucket: str) -> None:
    backend = open_s3(stack, bucket)
    upload = backend.client.create_multipart_upload(Bucket=bucket, Key="stale/obj")["UploadId"]
    assert [(u.key, u.upload_id) for u in backend.list_multipart_uploads("stale/")] == [
        ("stale/obj", upload)
    ]
    backend.abort_multipart("stale/obj", upload)
    backend.abort_multipart("stale/obj", upload)
    assert list(backend.list_multipart_uploads("stale/")) == []


def test_server_refuses_a_wrong_checksum_it_is_sent(stack: Any, bucket: str) -> None:
    """Bypass our own pre-check: the server itself answers BadDigest → 'checksum refused'."""
    backend = open_s3(stack, bucket)
    with pytest.raises(PermanentError, match="checksum refused"):
        backend._call(
            "put_object",
            "raw",
            Key="raw",
            Body=b"abc",
            ChecksumSHA256="n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
        )
    with pytest.raises(NotFoundError):
        backend.stat("raw")


def test_if_none_match_on_multipart_complete(stack: Any, bucket: str) -> None:
    backend = open_s3(stack, bucket)
    data = os.urandom(6 * MIB)
    backend.write("once", io.BytesIO(data), len(data), WriteOptions(if_none_match=True))
    with pytest.raises(PreconditionFailedError):
        backend.write("once", io.BytesIO(data), len(data), WriteOptions(if_none_match=True))
    assert list(backend.list_multipart_uploads()) == []
    assert backend.open_read("once").read() == data
