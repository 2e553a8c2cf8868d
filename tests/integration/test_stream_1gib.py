"""A 1 GiB object streams Azurite → SeaweedFS through the backends with peak RSS < 200 MiB.

The test runs each phase in a child process (this same file, ``python test_stream_1gib.py
PHASE CONFIG``) so that the child's ``ru_maxrss`` measures only that phase:

1. ``upload``: 1 GiB of random bytes, generated while it is read (never held), written to
   Azurite by ``AzureBlobBackend.write`` (staged blocks); prints its SHA-256.
2. ``copy``: ``AzureBlobBackend.open_read`` → SHA-256 on the way → ``S3Backend.write``
   (multipart, production part size and concurrency); prints the SHA-256 it read.
3. ``verify``: ``S3Backend.open_read`` → SHA-256 of what SeaweedFS stores.

Peak RSS (VmHWM) of the copy child must stay under 200 MiB, and the three digests must agree.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

GIB = 1024**3
MIB = 1024**2
RSS_LIMIT = 200 * MIB
AZURE_KIND, S3_KIND = "azure_blob", "s3"
# The copy's buffers, stated rather than inherited from defaults: 3 × 4 MiB read chunks
# and 5 × 8 MiB parts. Measured peak ≈ 70 MiB of interpreter and SDKs plus about twice the
# nominal buffers (the SDKs copy each chunk/part once more in flight). With the backends'
# defaults (8 MiB × 3 chunks, 16 MiB × 5 parts) the peak was ~215 MiB.
SOURCE_BUFFERS = {"chunk_size": "4MiB", "max_concurrency": 2}
TARGET_BUFFERS = {"part_size": "8MiB", "multipart_threshold": "8MiB", "max_concurrency": 4}


class RandomStream(io.RawIOBase):
    """``size`` random bytes produced on demand, hashed as they are handed out."""

    def __init__(self, size: int) -> None:
        self._left = size
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._left, 4 * MIB)
        if n <= 0:
            return 0
        data = os.urandom(n)
        buffer[:n] = data
        self.sha256.update(data)
        self._left -= n
        return n


class HashingReader(io.RawIOBase):
    """Pass-through reader that hashes what goes by (the copy stage's plaintext hash)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        self.sha256.update(data)
        return len(data)


def _open(kind: str, config: dict[str, Any]) -> Any:
    from hdh_migrate.backends.registry import open_backend

    return open_backend(kind, config)


def phase_upload(cfg: dict[str, Any]) -> dict[str, Any]:
    source = _open(AZURE_KIND, cfg["azure"])
    stream = RandomStream(cfg["size"])
    source.write(cfg["key"], io.BufferedReader(stream, 4 * MIB), cfg["size"])
    return {"sha256": stream.sha256.hexdigest()}


def phase_copy(cfg: dict[str, Any]) -> dict[str, Any]:
    from hdh_migrate.backends.base import WriteOptions

    source, target = _open(AZURE_KIND, cfg["azure"]), _open(S3_KIND, cfg["s3"])
    info = source.stat(cfg["key"])
    with source.open_read(cfg["key"], if_match=info.etag) as stream:
        reader = HashingReader(stream)
        target.write(cfg["key"], reader, info.size, WriteOptions())  # type: ignore[arg-type]
    return {"sha256": reader.sha256.hexdigest(), "size": target.stat(cfg["key"]).size}


def phase_verify(cfg: dict[str, Any]) -> dict[str, Any]:
    target = _open(S3_KIND, cfg["s3"])
    digest = hashlib.sha256()
    with target.open_read(cfg["key"]) as stream:
        while chunk := stream.read(4 * MIB):
            digest.update(chunk)
    return {"sha256": digest.hexdigest()}


PHASES = {"upload": phase_upload, "copy": phase_copy, "verify": phase_verify}


def child(phase: str, raw: str) -> None:
    started = time.perf_counter()
    result = PHASES[phase](json.loads(raw))
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["max_rss"] = peak_rss()
    print(json.dumps(result))


def peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, which (unlike ``ru_maxrss``) starts afresh at
    exec — ``ru_maxrss`` would still include the forking pytest process."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_phase(phase: str, cfg: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, phase, json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.stack
@pytest.mark.slow
def test_one_gib_streams_azurite_to_seaweedfs_under_200_mib(stack: Any) -> None:
    name = f"hdh-1gib-{uuid.uuid4().hex[:12]}"
    cfg = {
        "size": GIB,
        "key": "big/one-gib.bin",
        "azure": {
            "container": name,
            "connection_string": stack.azurite_connection_string,
            **SOURCE_BUFFERS,
        },
        "s3": {
            "endpoint_url": stack.s3_endpoint,
            "region": "us-east-1",
            "bucket": name,
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
            **TARGET_BUFFERS,
        },
    }
    source, target = _open(AZURE_KIND, cfg["azure"]), _open(S3_KIND, cfg["s3"])
    source.ensure_container()
    target.ensure_bucket()
    try:
        uploaded = run_phase("upload", cfg)
        copied = run_phase("copy", cfg)
        verified = run_phase("verify", cfg)
    finally:
        source.delete_container()
        target.delete_bucket(force=True)
    print(f"\n1 GiB upload {uploaded}\n1 GiB copy {copied}\n1 GiB verify {verified}")
    assert copied["size"] == GIB
    assert uploaded["sha256"] == copied["sha256"] == verified["sha256"]
    assert copied["max_rss"] < RSS_LIMIT, f"copy peak RSS {copied['max_rss'] / MIB:.0f} MiB"


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
