"""R8's stall criterion at the S3 backend: a response that stops in the middle of its body
(the fault proxy's stall: the connection stays open, nothing more arrives) is detected
within 2× the read timeout and raised as a retryable error — never a read that hangs.

(The Azure SDK's read timeout is fixed at 60 s: ``backends/azure_blob.SDK_TRANSPORT``.)
"""

from __future__ import annotations

import io
import os
import time
import uuid
from typing import Any
from urllib.parse import urlparse

import pytest

from hdh_migrate.backends.s3 import S3Backend
from hdh_migrate.errors import RetryableError
from tests.support.faultproxy import FaultProxy, Faults

pytestmark = pytest.mark.stack
READ_TIMEOUT = 2


def s3(stack: Any, endpoint: str, bucket: str) -> S3Backend:
    return S3Backend.from_config(
        {"endpoint_url": endpoint, "bucket": bucket, "access_key": stack.s3_access_key,
         "secret_key": stack.s3_secret_key, "read_timeout": READ_TIMEOUT, "sdk_attempts": 1}
    )  # fmt: skip


def test_a_stalled_read_is_detected_within_twice_the_read_timeout(stack: Any) -> None:
    bucket = f"hdh-stall-{uuid.uuid4().hex[:12]}"
    direct = s3(stack, stack.s3_endpoint, bucket)
    direct.ensure_bucket()
    try:
        data = os.urandom(1 << 20)
        direct.write("obj", io.BytesIO(data), len(data))
        port = urlparse(stack.s3_endpoint).port
        assert port
        with FaultProxy(port, Faults(stall_after=200_000, stall_fraction=1.0)) as proxy:
            stalled = s3(stack, proxy.url, bucket)
            started = time.monotonic()
            with pytest.raises(RetryableError), stalled.open_read("obj") as stream:
                stream.read()
            took = time.monotonic() - started
            assert proxy.counters.stalls >= 1
        print(f"R8 stall: detected after {took:.1f} s (read timeout {READ_TIMEOUT} s)")
        assert took < 2 * READ_TIMEOUT
    finally:
        direct.delete_bucket(force=True)
