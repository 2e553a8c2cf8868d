"""Peak RSS while one large object streams Azurite → SeaweedFS through the backends.

Usage: .venv/bin/python bench/backends/stream_rss.py [--size 1GiB] [--part 16MiB] [--workers 4]

Needs the local stack (``python -m devstack up``). Writes a random object to a fresh Azurite
container, then in a *fresh* process opens it with ``AzureBlobBackend.open_read`` and hands
the stream to ``S3Backend.write`` (multipart, parallel parts), sampling RSS every 20 ms.
Prints one JSON line: rss before, peak, growth, seconds, MiB/s, and the bound
(max_concurrency + 1) × part_size the S3 side promises.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024


class RandomStream(io.RawIOBase):
    """``size`` pseudo-random bytes (1 MiB of urandom repeated with a counter), hashed."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = os.urandom(MIB)
        self.n = 0
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left, MIB)
        data = (self.n.to_bytes(8, "big") + self.block)[:n]
        self.n += 1
        buffer[:n] = data
        self.sha.update(data)
        self.left -= n
        return n


def backends(stack: Any, container: str, bucket: str, part: int, workers: int) -> tuple[Any, Any]:
    from hdh_migrate.backends.registry import open_backend

    source = open_backend(
        "azure_blob",
        {"connection_string": stack.azurite_connection_string, "container": container},
    )
    target = open_backend(
        "s3",
        {
            "endpoint_url": stack.s3_endpoint,
            "bucket": bucket,
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
            "part_size": part,
            "multipart_threshold": part,
            "max_concurrency": workers,
            "checksum_algorithms": ["crc32c"],
        },
    )
    return source, target


def measure(container: str, bucket: str, size: int, part: int, workers: int) -> dict[str, Any]:
    import psutil

    import devstack

    stack = devstack.ensure_up()
    source, target = backends(stack, container, bucket, part, workers)
    process = psutil.Process()
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with source.open_read("big.bin") as stream:
        info = target.write("big.bin", stream, size)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    assert info.size == size
    return {
        "bytes": size,
        "part_mib": part // MIB,
        "workers": workers,
        "rss_before_mib": round(before / MIB, 1),
        "rss_peak_mib": round(peak[0] / MIB, 1),
        "growth_mib": round((peak[0] - before) / MIB, 1),
        "bound_mib": (workers + 1) * part // MIB,
        "seconds": round(seconds, 1),
        "mib_per_s": round(size / MIB / seconds, 1),
        "target_etag": info.etag,
    }


def main() -> None:
    from hdh_migrate.units import parse_size

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--part", default="16MiB")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size, part = parse_size(args.size), parse_size(args.part)
    if args.measure:
        print(json.dumps(measure(*args.measure, size, part, args.workers)))
        return
    import devstack

    stack = devstack.ensure_up()
    container, bucket = f"rss{uuid.uuid4().hex[:12]}", f"rss-{uuid.uuid4().hex[:12]}"
    source, target = backends(stack, container, bucket, part, args.workers)
    source.ensure_container()
    target.ensure_bucket()
    try:
        data = RandomStream(size)
        source.write("big.bin", data, size)  # type: ignore[arg-type]
        out = subprocess.run(
            [sys.executable, __file__, "--measure", container, bucket, "--size", args.size,
             "--part", args.part, "--workers", str(args.workers)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        result = json.loads(out)
        check = hashlib.sha256()
        with target.open_read("big.bin") as stream:
            while chunk := stream.read(8 * MIB):
                check.update(chunk)
        result["sha256_equal"] = check.digest() == data.sha.digest()
        print(json.dumps(result))
    finally:
        target.delete_bucket(force=True)
        source.delete_container()


if __name__ == "__main__":
    main()
