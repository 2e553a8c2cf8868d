"""Listing 10,000 blobs in Azurite keeps memory flat: what is held does not grow with the
number of objects already listed.

10,000 blobs of 512 bytes are uploaded with a thread pool (~35–60 s: Azurite is CPU-bound),
then a child process (this file, ``python test_azure_list_10k.py CONFIG``) lists them with
500-object pages, recording at every 500 objects the live Python heap (``gc.collect`` then
tracemalloc: exact, no allocator noise — the SDK's page objects form reference cycles that
the cyclic GC frees later) and the RSS. Holding every ObjectInfo adds ~1 KiB per object
(measured: +9.3 MiB between object 1,000 and 10,000); streaming measured +0.1 MiB.
Numbers for other page sizes: bench/backends/azure_list_rss.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

MIB = 1024 * 1024
COUNT, PAGE = 10_000, 500


def child(raw: str) -> None:
    import gc
    import tracemalloc

    import psutil

    from hdh_migrate.backends.registry import open_backend

    cfg = json.loads(raw)
    backend = open_backend("azure_blob", cfg | {"page_size": PAGE})
    process = psutil.Process()
    tracemalloc.start()
    heap, rss, last, count = {}, {}, "", 0
    for count, info in enumerate(backend.list(), start=1):
        assert info.key > last
        last = info.key
        if count % PAGE == 0:
            gc.collect()  # the SDK's page objects hold reference cycles: measure the live set
            heap[count] = tracemalloc.get_traced_memory()[0]
            rss[count] = process.memory_info().rss
    print(json.dumps({"count": count, "heap": heap, "rss": rss}))


def upload(backend: Any) -> None:
    def put(index: int) -> None:
        data = os.urandom(512)
        backend.write(f"o/{index // 1000:02d}/{index:06d}", io.BytesIO(data), len(data))

    with ThreadPoolExecutor(10) as pool:  # the SDK keeps 10 connections per client
        for _ in pool.map(put, range(COUNT)):
            pass


@pytest.mark.stack
@pytest.mark.slow
def test_listing_10k_blobs_keeps_memory_flat(stack: Any) -> None:
    from hdh_migrate.backends.registry import open_backend

    cfg = {
        "container": f"hdh-list10k-{uuid.uuid4().hex[:12]}",
        "connection_string": stack.azurite_connection_string,
    }
    backend: Any = open_backend("azure_blob", cfg)
    backend.ensure_container()
    try:
        upload(backend)
        done = subprocess.run(
            [sys.executable, __file__, json.dumps(cfg)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        backend.delete_container()
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    heap = {int(k): v for k, v in result["heap"].items()}
    rss = {int(k): v for k, v in result["rss"].items()}
    heap_growth = max(heap.values()) - heap[1000]
    rss_growth = max(rss.values()) - rss[1000]
    print(f"\nlist 10k: live heap +{heap_growth / MIB:.2f} MiB, RSS +{rss_growth / MIB:.2f} MiB")
    assert result["count"] == COUNT
    assert heap_growth < 1 * MIB, f"heap grew {heap_growth / MIB:.1f} MiB while listing"
    assert rss_growth < 8 * MIB, f"RSS grew {rss_growth / MIB:.1f} MiB while listing"


if __name__ == "__main__":
    child(sys.argv[1])
