"""Generate a synthetic health-data export in a source container or directory.

Sizes are log-uniform between 0 B and ``--max-size`` plus the edge sizes that break copy
tools (0 B, 1 B, a segment and a part ± 1 byte); names mix nested prefixes, Unicode,
spaces, ``%``, ``+`` and ``#``, and one ~900-byte key; contents are random (servers that
compress would flatter repetitive data). The same ``--seed`` gives the same names and
sizes. A ``_SUCCESS`` marker and a ``.tmp`` file show the plan's exclude globs at work.

    python examples/corpus.py azure --container rehearsal --objects 200
    python examples/corpus.py local --dir /tmp/export --objects 50
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # devstack: the repo root

from devstack.corpus import Dataset, corpus, seed
from hdh_migrate.backends.base import Backend
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.units import human_size, parse_size

MARKERS = (("dcir/2019/_SUCCESS", 0), ("dcir/2019/partial.tmp", 10))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("kind", choices=["azure", "local"])
    parser.add_argument("--container", default="rehearsal")
    parser.add_argument("--dir", default="export")
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--max-size", default="8MiB")
    parser.add_argument("--part-size", default="16MiB")
    parser.add_argument("--threshold", default="32MiB")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--fresh", action="store_true", help="empty the container first")
    args = parser.parse_args(argv)
    backend = _open(args)
    sizes = (parse_size(args.max_size), parse_size(args.part_size), parse_size(args.threshold))
    made = corpus(args.objects, *sizes, seed=args.seed, prefix="")
    dataset = Dataset(made.name, made.objects + MARKERS)
    seed(backend, dataset, threads=8)
    print(f"seeded {dataset.count} objects, {human_size(dataset.bytes)} in {backend.name}")
    return 0


def _open(args: argparse.Namespace) -> Backend:
    if args.kind == "local":
        return open_backend("local", {"root": args.dir})
    connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if not connection:
        sys.exit("AZURE_STORAGE_CONNECTION_STRING is not set: source the devstack env first")
    config = {"container": args.container, "connection_string": connection}
    backend = open_backend("azure_blob", config)
    if args.fresh:
        backend.delete_container()  # type: ignore[attr-defined]
    backend.ensure_container()  # type: ignore[attr-defined]
    return backend


if __name__ == "__main__":
    sys.exit(main())
