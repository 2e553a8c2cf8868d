"""AzureBlobBackend against Azurite: what the shared contract suite does not cover
(Content-MD5, blob properties in ``extra``, ETag pinning mid-read, leases, auth, missing
container). The contract cases themselves run from tests/contract/ ("azure-azurite")."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hdh_migrate.backends.azure_blob import AzureBlobBackend, LeaseConflictError
from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.errors import AuthError, NotFoundError, PermanentError, PreconditionFailedError

pytestmark = pytest.mark.stack
MIB = 1024 * 1024


def config(stack: Any, container: str, **extra: object) -> dict[str, object]:
    base = {
        "container": container,
        "connection_string": stack.azurite_connection_string,
        "chunk_size": MIB,
        "block_size": MIB,
        "single_put_size": MIB,
        "sdk_retries": 0,
    }
    return {**base, **extra}


@pytest.fixture
def az(stack: Any) -> Iterator[AzureBlobBackend]:
    backend = AzureBlobBackend.from_config(config(stack, f"hdh-az-{uuid.uuid4().hex[:12]}"))
    backend.ensure_container()
    yield backend
    backend.delete_container()
    backend.close()


def put(backend: AzureBlobBackend, key: str, data: bytes, **options: Any) -> None:
    backend.write(key, io.BytesIO(data), len(data), WriteOptions(**options))


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.mark.parametrize("size", [10, 3 * MIB + 7], ids=["put-blob", "blocks"])
def test_expected_md5_is_checked_and_stored(az: AzureBlobBackend, size: int) -> None:
    data = os.urandom(size)
    info = az.write("m", io.BytesIO(data), size, WriteOptions(checksums={"md5": md5_b64(data)}))
    assert info.content_md5 == hashlib.md5(data).digest()
    assert az.stat("m").content_md5 == hashlib.md5(data).digest()
    assert next(iter(az.list())).content_md5 == hashlib.md5(data).digest()


def test_wrong_md5_on_a_block_upload_commits_nothing(az: AzureBlobBackend) -> None:
    data = os.urandom(3 * MIB)
    with pytest.raises(PermanentError, match="checksum"):
        put(az, "bad", data, checksums={"md5": md5_b64(b"other")})
    with pytest.raises(NotFoundError):
        az.stat("bad")


def test_block_upload_without_md5_has_none(az: AzureBlobBackend) -> None:
    put(az, "nomd5", os.urandom(2 * MIB + 1))
    assert az.stat("nomd5").content_md5 is None


def test_extra_reports_type_tier_and_lease(az: AzureBlobBackend) -> None:
    put(az, "x", b"abc")
    extra = az.stat("x").extra
    assert extra["blob_type"] == "BlockBlob"
    assert extra["access_tier"] == "Hot"
    assert extra["lease_state"] == "available"
    lease = az.acquire_lease("x")
    assert next(iter(az.list())).extra["lease_state"] == "leased"
    az.release_lease("x", lease)
    assert az.stat("x").extra["lease_state"] == "available"


def test_a_blob_changed_mid_read_is_refused(az: AzureBlobBackend) -> None:
    data = os.urandom(4 * MIB)
    put(az, "moving", data)
    stream = az.open_read("moving")
    assert stream.read(MIB) == data[:MIB]
    put(az, "moving", os.urandom(4 * MIB))
    with pytest.raises(PreconditionFailedError):
        while stream.read(MIB):
            pass
    stream.close()


def test_multi_chunk_read_with_pinned_etag(az: AzureBlobBackend) -> None:
    data = os.urandom(5 * MIB + 3)
    put(az, "big", data)
    etag = az.stat("big").etag
    with az.open_read("big", if_match=etag) as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(data).digest()
    with az.open_read("big", range=(MIB - 1, 3 * MIB), if_match=etag) as stream:
        assert stream.read() == data[MIB - 1 : 3 * MIB + 1]


def test_leased_blob_refuses_writes_and_deletes_without_the_lease(az: AzureBlobBackend) -> None:
    put(az, "l", b"v1")
    lease = az.acquire_lease("l")
    with pytest.raises(LeaseConflictError):
        put(az, "l", b"v2")
    with pytest.raises(LeaseConflictError):
        put(az, "l", os.urandom(2 * MIB))
    with pytest.raises(LeaseConflictError):
        az.delete("l")
    with pytest.raises(LeaseConflictError):
        az.acquire_lease("l")
    az.write("l", io.BytesIO(b"v3"), 2, lease_id=lease)
    with az.open_read("l") as stream:
        assert stream.read() == b"v3"
    az.break_lease("l")
    put(az, "l", b"v4")
    az.delete("l")
    with pytest.raises(NotFoundError):
        az.stat("l")


def test_wrong_account_key_is_an_auth_error(stack: Any, az: AzureBlobBackend) -> None:
    bad_key = base64.b64encode(b"definitely-not-the-key-" * 2).decode()
    container = az.name.rsplit("/", 1)[1]
    settings = {"container": container, "account_url": stack.azurite_account_url}
    backend = AzureBlobBackend.from_config({**settings, "credential": bad_key, "sdk_retries": 0})
    with pytest.raises(AuthError) as info:
        backend.stat("anything")
    assert bad_key not in info.value.one_line()
    with pytest.raises(AuthError):
        list(backend.list())


def test_missing_container_is_not_found_with_a_hint(stack: Any) -> None:
    name = f"hdh-missing-{uuid.uuid4().hex[:12]}"
    backend = AzureBlobBackend.from_config(config(stack, name))
    with pytest.raises(NotFoundError) as info:
        list(backend.list())
    assert "create the container" in info.value.one_line()


def test_account_url_and_key_work_like_a_connection_string(
    stack: Any, az: AzureBlobBackend
) -> None:
    put(az, "k", b"hello")
    container = az.name.rsplit("/", 1)[1]
    other = AzureBlobBackend.from_config(
        {
            "container": container,
            "account_url": stack.azurite_account_url,
            "credential": stack.azurite_account_key,
        }
    )
    assert other.name == az.name
    with other.open_read("k") as stream:
        assert stream.read() == b"hello"
