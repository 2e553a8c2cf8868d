"""``python -m bench [SUITE ...]``: hdh-migrate and rclone side by side on the local stack.

Suites: copy (32 × 64 MiB), small (10,000 × 4–64 KiB, and a no-op re-run of each tool),
big (one 4 GiB object), corpus10k (RELIABILITY's corpus, full verification), inventory
(10^6 listed objects into a journal; status and audit on it), noop (the coordinator's
ceiling: no-op work units on threads, a local and the devstack Dask cluster). Default: all
of them (corpus10k with the lowered size cap documented in docs/benchmarks.md). Results go
to bench/results/.
"""

from __future__ import annotations

import argparse
import compileall
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.report import save, table
from bench.suites import SUITES, Options, Row, timestamp
from bench.tools import ROOT, Tuning
from hdh_migrate.units import parse_size

DEFAULT_SUITES = ["copy", "small", "big", "corpus10k", "inventory", "noop"]


def parse(argv: list[str] | None) -> tuple[list[str], Options]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", default=DEFAULT_SUITES)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="both tools (rclone --transfers)"
    )
    parser.add_argument("--part-size", default="16MiB", help="both tools (rclone --s3-chunk-size)")
    parser.add_argument("--threshold", default="16MiB", help="multipart threshold / upload cutoff")
    parser.add_argument("--verify", default="metadata,full", help="hdh-migrate verify modes")
    parser.add_argument(
        "--state-base", default="", help="hdh-migrate state dirs here (e.g. /dev/shm: no fsync)"
    )
    parser.add_argument("--tools", default="hdh,rclone", help="hdh, rclone or both")
    parser.add_argument("--no-crypt", action="store_true", help="skip rclone with a crypt remote")
    parser.add_argument("--corpus-objects", type=int, default=10_000)
    parser.add_argument("--corpus-max", default="8MiB", help="log-uniform cap (64MiB = full)")
    parser.add_argument("--big-size", default="4GiB")
    parser.add_argument("--small-objects", type=int, default=10_000, help="small suite size")
    parser.add_argument("--copy-objects", type=int, default=32, help="copy suite: 64 MiB each")
    parser.add_argument("--inventory-objects", type=int, default=1_000_000)
    parser.add_argument("--no-noop", action="store_true", help="skip the no-op re-run rows")
    parser.add_argument(
        "--noop-objects", type=int, default=2000, help="noop suite: units per executor"
    )
    parser.add_argument("--no-probe", action="store_true", help="no probe before hdh runs")
    parser.add_argument(
        "--hdh-code",
        default="",
        help="comma-separated checkouts to run hdh-migrate from, one row each ('.' = the"
        " installed code): before/after rows on the same seeded data",
    )
    parser.add_argument(
        "--schemes", default="http", help="the target's scheme(s): http, https or both"
    )
    parser.add_argument(
        "--executors",
        default="threads",
        help="hdh-migrate executors, one row each: threads, dask:N (N worker processes)",
    )
    parser.add_argument(
        "--buffer-memory",
        default="",
        help="hdh-migrate defaults.buffer_memory (e.g. 64MiB; default: the plan's default)",
    )
    parser.add_argument("--keep", action="store_true", help="keep containers and buckets")
    args = parser.parse_args(argv)
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {sorted(unknown)}; choose from {sorted(SUITES)}")
    tuning = Tuning(
        args.concurrency,
        args.state_base,
        parse_size(args.part_size),
        parse_size(args.threshold),
        buffer_memory=parse_size(args.buffer_memory) if args.buffer_memory else 0,
    )
    codes = tuple(
        "" if c == "." else str(Path(c).absolute()) for c in args.hdh_code.split(",") if c
    )
    work = Path(tempfile.mkdtemp(prefix="hdh-bench-"))
    options = Options(
        work=work,
        tuning=tuning,
        verify_modes=tuple(m for m in args.verify.split(",") if m),
        crypt=not args.no_crypt,
        tools=tuple(t for t in args.tools.split(",") if t),
        corpus_objects=args.corpus_objects,
        corpus_max=parse_size(args.corpus_max),
        big_size=parse_size(args.big_size),
        small_objects=args.small_objects,
        copy_objects=args.copy_objects,
        inventory_objects=args.inventory_objects,
        noop_objects=args.noop_objects,
        noop=not args.no_noop,
        probe=not args.no_probe,
        hdh_codes=codes or ("",),
        schemes=tuple(x for x in args.schemes.split(",") if x),
        executors=tuple("" if x == "threads" else x for x in args.executors.split(",") if x),
        keep=args.keep,
    )
    return list(args.suites), options


def compile_code(codes: tuple[str, ...]) -> None:
    """Byte-compile each measured checkout (the installed code for ""), as installing a
    wheel does: where PYTHONDONTWRITEBYTECODE is set (CI images, containers) an editable
    checkout would otherwise be compiled again by every process — 0.2 CPU-s of each
    start measured here, which no installed user pays."""
    for code in codes:
        package = Path(code or ROOT) / "hdh_migrate"
        compileall.compile_dir(package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    suites, options = parse(argv)
    compile_code(options.hdh_codes)
    stamp, everything = timestamp(), list[Row]()
    settings = {k: str(v) for k, v in asdict(options).items()}
    for name in suites:
        rows = []
        for row in SUITES[name](options):
            print(f"{row.suite:10} {row.tool:18} {row.mode:24} {row.seconds:8.1f} s", flush=True)
            rows.append(row)
        print(f"results: {save(name, stamp, rows, settings)}", flush=True)
        everything += rows
    print()
    print(table(everything))
    return 0 if all(r.ok for r in everything) else 1


if __name__ == "__main__":
    sys.exit(main())
