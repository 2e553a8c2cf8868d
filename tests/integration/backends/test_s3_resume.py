"""Resumable multipart uploads on SeaweedFS (``WriteOptions.resume``): a write interrupted
after some parts keeps its upload open; the next write of the same bytes finds it by its
part 1 (size and MD5), sends only the missing parts, and aborts the key's other uploads
once complete. A permanent failure aborts; different bytes never reuse a part."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.backends.s3 import S3Backend
from hdh_migrate.errors import PermanentError, RetryableError

pytestmark = pytest.mark.stack
MIB = 1024 * 1024
PART = 5 * MIB
RESUME = WriteOptions(resume=True)


def open_s3(stack: Any, bucket: str, **extra: Any) -> S3Backend:
    config = {
        "endpoint_url": stack.s3_endpoint,
        "bucket": bucket,
        "access_key": stack.s3_access_key,
        "secret_key": stack.s3_secret_key,
        "multipart_threshold": "5MiB",
        "part_size": "5MiB",
        "max_concurrency": 1,
        "checksum_algorithms": ["md5"],
    }
    return S3Backend.from_config(config | extra)


@pytest.fixture
def bucket(stack: Any) -> Iterator[str]:
    name = f"hdh-resume-{uuid.uuid4().hex[:12]}"
    backend = open_s3(stack, name)
    backend.ensure_bucket()
    yield name
    backend.delete_bucket(force=True)


class Breaks(io.RawIOBase):
    """``data`` that fails with ``error`` once ``after`` bytes were read."""

    def __init__(self, data: bytes, after: int, error: Exception) -> None:
        self.inner, self.after, self.error = io.BytesIO(data), after, error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.inner.tell() >= self.after:
            raise self.error
        view = memoryview(buffer)[: self.after - self.inner.tell()]
        return self.inner.readinto(view)


def parts_of(backend: S3Backend, key: str) -> dict[str, list[int]]:
    return {
        u.upload_id: sorted(backend._listed_parts(key, u.upload_id))
        for u in backend.list_multipart_uploads(key)
    }


@pytest.mark.parametrize("checksums", [["md5"], ["crc32c"]])
def test_an_interrupted_write_is_resumed_without_sending_its_parts_again(
    stack: Any, bucket: str, checksums: list[str]
) -> None:
    backend = open_s3(stack, bucket, checksum_algorithms=checksums)
    data = os.urandom(4 * PART - 1000)
    with pytest.raises(RetryableError):
        backend.write("big", Breaks(data, 2 * PART + 10, RetryableError("cut")), len(data), RESUME)
    [numbers] = parts_of(backend, "big").values()
    assert numbers == [1, 2]  # kept open: a retryable failure
    info = backend.write("big", io.BytesIO(data), len(data), RESUME)
    assert (info.extra["parts_reused"], info.extra["parts_uploaded"]) == ("2", "2")
    assert backend.open_read("big").read() == data
    assert parts_of(backend, "big") == {}


def test_other_bytes_never_reuse_a_part_and_stale_uploads_are_aborted(
    stack: Any, bucket: str
) -> None:
    backend = open_s3(stack, bucket)
    old = os.urandom(3 * PART)
    with pytest.raises(RetryableError):
        backend.write("big", Breaks(old, 2 * PART + 1, RetryableError("cut")), len(old), RESUME)
    new = old[:PART] + os.urandom(2 * PART)  # same part 1, other part 2: part 2 sent again
    info = backend.write("big", io.BytesIO(new), len(new), RESUME)
    assert (info.extra["parts_reused"], info.extra["parts_uploaded"]) == ("1", "2")
    assert backend.open_read("big").read() == new
    with pytest.raises(RetryableError):
        backend.write("big", Breaks(old, PART + 1, RetryableError("cut")), len(old), RESUME)
    other = os.urandom(3 * PART)  # another part 1: a new upload, the stale one aborted
    info = backend.write("big", io.BytesIO(other), len(other), RESUME)
    assert (info.extra["parts_reused"], info.extra["parts_uploaded"]) == ("0", "3")
    assert backend.open_read("big").read() == other
    assert parts_of(backend, "big") == {}


def test_a_permanent_failure_aborts_the_resumable_upload(stack: Any, bucket: str) -> None:
    backend = open_s3(stack, bucket)
    data = os.urandom(3 * PART)
    with pytest.raises(PermanentError, match="early"):
        backend.write("big", io.BytesIO(data[: 2 * PART + 5]), len(data), RESUME)
    assert parts_of(backend, "big") == {}


def test_without_resume_an_interrupted_upload_is_aborted(stack: Any, bucket: str) -> None:
    backend = open_s3(stack, bucket)
    data = os.urandom(3 * PART)
    with pytest.raises(RetryableError):
        backend.write("big", Breaks(data, 2 * PART + 1, RetryableError("cut")), len(data))
    assert parts_of(backend, "big") == {}
