"""What the engine plans around is declared by each backend's ``capabilities()`` (read
ahead, multipart threshold, parts in flight, read-with-properties, retention report, SAS
expiry), never sniffed from its attributes."""

from __future__ import annotations

from hdh_migrate.backends.azure_blob import AzureBlobBackend
from hdh_migrate.backends.local import LocalBackend
from hdh_migrate.backends.memory import MemoryBackend
from hdh_migrate.backends.s3 import S3Backend
from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.stages.retry import RetryingBackend, RetryPolicy

MIB = 1 << 20
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
    "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)


def test_azure_declares_its_read_ahead_and_what_it_can_report() -> None:
    config = {"container": "c", "connection_string": AZURITE, "chunk_size": "4MiB",
              "max_concurrency": 3, "single_put_size": "2MiB"}  # fmt: skip
    caps = AzureBlobBackend.from_config(config).capabilities()
    assert caps.read_ahead == 4 * 4 * MIB  # (3 + 1) chunks of 4 MiB
    assert (caps.multipart_threshold, caps.read_with_info, caps.retention_settings) == (
        2 * MIB,
        True,
        True,
    )
    assert caps.credential_expires is None  # an account key does not expire


def test_s3_declares_the_settings_its_spec_gave() -> None:
    spec = S3Settings(bucket="b", endpoint_url="http://127.0.0.1:9", region="r",
                      multipart_threshold=32 * MIB, max_concurrency=2)  # fmt: skip
    caps = S3Backend.from_spec(spec).capabilities()
    assert (caps.multipart_threshold, caps.parts_in_flight, caps.open_uploads) == (
        32 * MIB,
        2,
        True,
    )
    assert not caps.read_with_info and not caps.retention_settings


def test_plain_backends_declare_single_puts_and_the_retry_wrapper_passes_them_on(tmp_path) -> None:
    for backend in (MemoryBackend(), LocalBackend(tmp_path)):
        caps = backend.capabilities()
        assert (caps.multipart_threshold, caps.read_ahead, caps.read_with_info) == (
            None,
            2 * MIB,
            False,
        )
    wrapped = RetryingBackend(MemoryBackend(), RetryPolicy())
    assert wrapped.capabilities() == MemoryBackend().capabilities()
