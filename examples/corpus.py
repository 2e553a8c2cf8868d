"""Generate a synthetic health-data export in a source container or directory.

Sizes are log-uniform between 0 B and ``--max-size`` plus the edge sizes that break copy
tools (0 B, 1 B, a segment and a part ± 1 byte); names mix nested prefixes, Unicode,
spaces, ``%``, ``+`` and ``#``; contents are random (servers that compress would flatter
repetitive data). The same ``--seed`` gives the same names and sizes.

    python examples/corpus.py azure --container rehearsal --objects 200
    python examples/corpus.py local --dir /tmp/export --objects 50
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import sys
from collections.abc import Iterator

from hdh_migrate.backends.base import Backend
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.units import human_size, parse_size

MIB = 1 << 20
NAMES = [
    "séjours",
    "actes médicaux",
    "pharmacie 100%",
    "biologie+imagerie",
    "naissances#2019",
    "référentiel_ALD",
    "établissements",
    "données brutes",
    "日本語-test",
    "urgences",
]


def plan(count: int, max_size: int, part_size: int, seed: int) -> Iterator[tuple[str, int]]:
    """(key, size) pairs: edge sizes first, then log-uniform sizes."""
    rng = random.Random(seed)
    edges = [0, 1, MIB - 1, MIB, MIB + 1, part_size - 1, part_size, part_size + 1]
    for index in range(count):
        size = edges[index] if index < len(edges) else _log_uniform(rng, max_size)
        yield _key(rng, index), size
    yield "dcir/2019/_SUCCESS", 0
    yield "dcir/2019/partial.tmp", 10


def _log_uniform(rng: random.Random, max_size: int) -> int:
    return int(math.exp(rng.uniform(0, math.log(max_size + 1)))) - 1


def _key(rng: random.Random, index: int) -> str:
    top = "referentiels" if index % 4 == 0 else "dcir"
    depth = [f"{2019 + index % 3}", f"{index % 12 + 1:02d}", rng.choice(NAMES)][: rng.randint(1, 3)]
    return "/".join([top, *depth, f"part-{index:05d} {rng.choice(NAMES)}.parquet"])


def populate(backend: Backend, objects: Iterator[tuple[str, int]]) -> tuple[int, int]:
    count = total = 0
    for key, size in objects:
        backend.write(key, _RandomStream(size), size)
        count, total = count + 1, total + size
    return count, total


class _RandomStream(io.RawIOBase):
    """``size`` random bytes, produced as they are read (bounded memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = os.urandom(count)
        self.left -= count
        return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["azure", "local"])
    parser.add_argument("--container", default="rehearsal")
    parser.add_argument("--dir", default="export")
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--max-size", default="8MiB")
    parser.add_argument("--part-size", default="16MiB")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--fresh", action="store_true", help="empty the container first")
    args = parser.parse_args(argv)
    backend = _open(args)
    objects = plan(args.objects, parse_size(args.max_size), parse_size(args.part_size), args.seed)
    count, total = populate(backend, objects)
    print(f"seeded {count} objects, {human_size(total)} in {backend.name}")
    return 0


def _open(args: argparse.Namespace) -> Backend:
    if args.kind == "local":
        return open_backend("local", {"root": args.dir})
    connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if not connection:
        sys.exit("AZURE_STORAGE_CONNECTION_STRING is not set: source the devstack env first")
    backend = open_backend(
        "azure_blob", {"container": args.container, "connection_string": connection}
    )
    if args.fresh:
        backend.delete_container()  # type: ignore[attr-defined]
    backend.ensure_container()  # type: ignore[attr-defined]
    return backend


if __name__ == "__main__":
    sys.exit(main())
