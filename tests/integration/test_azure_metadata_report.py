"""Azure-only properties of real blobs (Azurite) reach ``extra`` and the mapping report:
blob index tags, access tier, lease; and what the mapping carries to a real S3 target.
Tags and tiers are set with the SDK directly (the backend does not write them)."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from hdh_migrate.backends.azure_blob import AzureBlobBackend
from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.backends.metadata_map import NOT_CARRIED, map_azure_to_s3, s3_to_azure_metadata
from hdh_migrate.backends.registry import open_backend

pytestmark = pytest.mark.stack


@pytest.fixture
def az(stack: Any) -> Iterator[AzureBlobBackend]:
    config = {
        "container": f"hdh-azmeta-{uuid.uuid4().hex[:12]}",
        "connection_string": stack.azurite_connection_string,
    }
    backend = AzureBlobBackend.from_config(config)
    backend.ensure_container()
    yield backend
    backend.delete_container()


def sdk_blob(stack: Any, backend: AzureBlobBackend, key: str) -> Any:
    service = BlobServiceClient.from_connection_string(stack.azurite_connection_string)
    return service.get_blob_client(backend.name.rsplit("/", 1)[1], key)


def test_tags_tier_and_lease_are_reported(stack: Any, az: AzureBlobBackend) -> None:
    az.write("x", io.BytesIO(b"data"), 4, WriteOptions(metadata={"Study": "é1"}))
    blob = sdk_blob(stack, az, "x")
    blob.set_blob_tags({"project": "p1", "site": "s2"})
    blob.set_standard_blob_tier("Cool")
    lease = az.acquire_lease("x")
    try:
        info = az.stat("x")
        listed = next(iter(az.list()))
    finally:
        az.release_lease("x", lease)
    assert info.extra["tag_count"] == "2" and info.extra["access_tier"] == "Cool"
    assert info.extra["lease_state"] == "leased"
    assert listed.extra["access_tier"] == "Cool" and listed.metadata == info.metadata
    mapped = map_azure_to_s3(info)
    assert {"extra:tag_count", "extra:access_tier", "extra:lease_state"} <= set(
        mapped.report.not_carried()
    )
    assert dict(mapped.metadata) == {"study": "=?UTF-8?B?w6kx?="}
    assert all(i.action == NOT_CARRIED for i in mapped.report.issues if i.item.startswith("extra"))


def test_mapped_metadata_round_trips_through_seaweedfs(stack: Any, az: AzureBlobBackend) -> None:
    content = {"content_type": "application/dicom", "cache_control": "no-store"}
    metadata = {"PatientGroup": "cardio pédiatrie", "plain": "x"}
    az.write("m", io.BytesIO(b"abc"), 3, WriteOptions(content=content, metadata=metadata))
    mapped = map_azure_to_s3(az.stat("m"), tool_metadata={"hdh-run": "r1"})
    s3: Any = open_backend(
        "s3",
        {
            "endpoint_url": stack.s3_endpoint,
            "region": "us-east-1",
            "bucket": az.name.rsplit("/", 1)[1],
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
        },
    )
    s3.ensure_bucket()
    try:
        with az.open_read("m") as stream:
            s3.write("m", stream, 3, mapped.write_options())
        stored = s3.stat("m")
    finally:
        s3.delete_bucket(force=True)
    assert {k: stored.content.get(k) for k in content} == content
    assert stored.metadata.get("hdh-run") == "r1"
    assert s3_to_azure_metadata(stored.metadata) == {k.lower(): v for k, v in metadata.items()}


def test_read_answers_the_properties_a_stat_would(stack: Any, az: AzureBlobBackend) -> None:
    """``open_read_info`` (one Get Blob) carries what copy used a Get Properties for: size,
    ETag, Content-MD5, content settings, metadata and the blob's extras — but the tier."""
    content = {"content_type": "application/dicom", "content_language": "fr"}
    data = b"x" * (3 * 1024 * 1024 + 5)
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    options = WriteOptions(content=content, metadata={"Study": "s1"}, checksums={"md5": md5})
    az.write("p/é x", io.BytesIO(data), len(data), options)
    stat = az.stat("p/é x")
    stream, info = az.open_read_info("p/é x", if_match=stat.etag)
    with stream:
        assert stream.read() == data
    assert (info.key, info.size, info.etag) == (stat.key, stat.size, stat.etag)
    assert info.content == stat.content and info.metadata == stat.metadata
    assert info.content_md5 == stat.content_md5 == hashlib.md5(data).digest()
    assert {k: v for k, v in stat.extra.items() if k != "access_tier"} == dict(info.extra)
