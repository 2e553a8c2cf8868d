"""Peak RSS while listing N blobs in Azurite through AzureBlobBackend: flat in N.

Usage: .venv/bin/python bench/backends/azure_list_rss.py [--count 10000] [--page-size 5000 1000]
                                                         [--threads 16] [--keep-all]

Needs the local stack (``python -m devstack up``). Uploads N blobs of 512 random bytes to a
fresh container with a thread pool, then lists them in a *fresh* process per page size,
sampling RSS every 500 objects. Prints one JSON line per run: RSS before, after the first
page, peak, growth, seconds; ``--keep-all`` adds a run that holds every ObjectInfo in a
list, to show what a non-streaming listing would cost. Results also go to bench/results/.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024


def open_container(connection_string: str, container: str, page_size: int = 5000) -> Any:
    from hdh_migrate.backends.registry import open_backend

    config = {"container": container, "connection_string": connection_string}
    return open_backend("azure_blob", config | {"page_size": page_size})


def upload(backend: Any, count: int, threads: int) -> float:
    """``count`` blobs ``o/<dir>/<n>`` of 512 random bytes; returns seconds taken."""

    def put(index: int) -> None:
        data = os.urandom(512)
        backend.write(f"o/{index // 1000:03d}/{index:07d}.bin", io.BytesIO(data), len(data))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(put, range(count)):
            pass
    return time.perf_counter() - started


def measure(connection_string: str, container: str, page_size: int, keep: bool) -> dict[str, Any]:
    """List everything once, sampling RSS; runs in a fresh process."""
    import psutil

    process = psutil.Process()
    backend = open_container(connection_string, container, page_size)
    held: list[Any] = []
    before = peak = process.memory_info().rss
    after_first_page = None
    started = time.perf_counter()
    count, last = 0, ""
    for count, info in enumerate(backend.list(), start=1):
        assert info.key > last, "listing out of order"
        last = info.key
        if keep:
            held.append(info)
        if count % 500 == 0:
            peak = max(peak, process.memory_info().rss)
        if count == page_size:
            after_first_page = process.memory_info().rss
    seconds = time.perf_counter() - started
    peak = max(peak, process.memory_info().rss)
    first = after_first_page or peak
    return {
        "objects": count,
        "page_size": page_size,
        "keep_all": keep,
        "rss_before_mib": round(before / MIB, 1),
        "rss_after_first_page_mib": round(first / MIB, 1),
        "rss_peak_mib": round(peak / MIB, 1),
        "growth_mib": round((peak - before) / MIB, 2),
        "growth_after_first_page_mib": round((peak - first) / MIB, 2),
        "seconds": round(seconds, 2),
        "objects_per_s": round(count / seconds) if seconds else None,
    }


def run_child(connection_string: str, container: str, page_size: int, keep: bool) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--measure", container, "--page-size", str(page_size)]
    env = dict(os.environ, HDH_BENCH_AZURE=connection_string)
    out = subprocess.run(
        argv + (["--keep-all"] if keep else []), check=True, capture_output=True, text=True, env=env
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, nargs="+", default=[5000, 1000])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--keep-all", action="store_true")
    parser.add_argument("--container", help="reuse this container (already filled), keep it")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        conn = os.environ["HDH_BENCH_AZURE"]
        print(json.dumps(measure(conn, args.measure, args.page_size[0], args.keep_all)))
        return
    import devstack

    conn = devstack.ensure_up().azurite_connection_string
    container = args.container or f"hdh-bench-list-{uuid.uuid4().hex[:10]}"
    backend = open_container(conn, container)
    backend.ensure_container()
    results = []
    try:
        if not args.container:
            seconds = upload(backend, args.count, args.threads)
            print(json.dumps({"uploaded": args.count, "seconds": round(seconds, 1)}), flush=True)
        runs = [(size, False) for size in args.page_size]
        runs += [(args.page_size[0], True)] if args.keep_all else []
        for size, keep in runs:
            results.append(run_child(conn, container, size, keep))
            print(json.dumps(results[-1]), flush=True)
    finally:
        if not args.container:
            backend.delete_container()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = ROOT / "bench" / "results" / f"azure-list-rss-{stamp}.json"
    out.write_text(json.dumps({"count": args.count, "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
