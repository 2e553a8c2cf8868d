"""Peak RSS while listing N objects on the local backend: it must stay flat in N.

Usage: .venv/bin/python bench/backends/list_rss.py [--counts 10000 100000] [--per-dir 1000]

Creates N empty files (``--per-dir`` per directory; ``--per-dir 0`` = all in one directory)
under a temp dir, then lists them in a *fresh* process, sampling RSS every 1,000 objects.
Prints one JSON line per count: rss before the listing, peak during, growth, seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def create(root: Path, count: int, per_dir: int) -> None:
    for i in range(count):
        folder = root / (f"d{i // per_dir:05d}" if per_dir else "flat")
        if per_dir == 0 or i % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"object-{i:08d}.bin").touch()


def measure(root: str) -> dict[str, float]:
    import psutil

    from hdh_migrate.backends.local import LocalBackend

    process = psutil.Process()
    backend = LocalBackend(root, create=False)
    before = peak = process.memory_info().rss
    started = time.perf_counter()
    count = 0
    for count, _ in enumerate(backend.list(), start=1):
        if count % 1000 == 0:
            peak = max(peak, process.memory_info().rss)
    peak = max(peak, process.memory_info().rss)
    seconds = time.perf_counter() - started
    mib = 1024 * 1024
    return {
        "objects": count,
        "rss_before_mib": round(before / mib, 1),
        "rss_peak_mib": round(peak / mib, 1),
        "growth_mib": round((peak - before) / mib, 2),
        "seconds": round(seconds, 2),
        "objects_per_s": round(count / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-dir", type=int, default=1000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    for count in args.counts:
        root = Path(tempfile.mkdtemp(prefix="hdh-list-rss-"))
        try:
            create(root, count, args.per_dir)
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(root)],
                check=True,
                capture_output=True,
                text=True,
                env=os.environ,
            ).stdout
            result = json.loads(out) | {"per_dir": args.per_dir or "flat"}
            print(json.dumps(result), flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
