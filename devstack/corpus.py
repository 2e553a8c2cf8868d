"""Synthetic health-data exports for the local stack: deterministic (key, size) streams and
how they are seeded (benchmarks, corpus tests, ``examples/corpus.py``).

- ``copy``: 32 × 64 MiB (throughput);
- ``small``: 10,000 objects of 4–64 KiB, uniform (per-object overhead);
- ``corpus``: RELIABILITY's corpus "10k" — log-uniform 0 B–``max_size`` plus the edge sizes
  (0 B, 1 B, segment ± 1, part size ± 1, multipart threshold ± 1), Unicode, spaces, ``%``,
  ``+``, ``#``, a long name, nested prefixes;
- ``big``: one object of ``size`` bytes (4 GiB by default).

Contents are random bytes produced as they are written (SeaweedFS compresses repetitive
data; nothing is held in memory beyond the backend's own block buffer).
"""

from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hdh_migrate.backends.base import Backend
from hdh_migrate.engine.rehearsal.synthetic import RandomStream

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
PREFIX = "data/"  # where benchmark and test datasets live in their container
NAMES = [
    "séjours",
    "actes médicaux",
    "pharmacie 100%",
    "biologie+imagerie",
    "naissances#2019",
    "référentiel_ALD",
    "données brutes",
    "日本語-テスト",
    "urgences",
    "50% off",
]


@dataclass(frozen=True)
class Dataset:
    """A named list of (key, size) pairs under ``PREFIX`` and its total bytes."""

    name: str
    objects: tuple[tuple[str, int], ...]

    @property
    def count(self) -> int:
        return len(self.objects)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.objects)


def fixed(name: str, count: int, size: int) -> Dataset:
    """``count`` objects of exactly ``size`` bytes."""
    return Dataset(name, tuple((f"{PREFIX}f/{i:05d}.bin", size) for i in range(count)))


def uniform(name: str, count: int, low: int, high: int, seed: int = 7) -> Dataset:
    """``count`` objects of sizes uniform in [low, high], two levels of prefixes."""
    rng = random.Random(seed)
    return Dataset(
        name,
        tuple(
            (f"{PREFIX}s/{i % 16:02d}/{i:05d}.bin", rng.randint(low, high)) for i in range(count)
        ),
    )


def corpus(
    count: int,
    max_size: int,
    part_size: int,
    threshold: int,
    seed: int = 2026,
    prefix: str = PREFIX,
) -> Dataset:
    """RELIABILITY's corpus: edge sizes first, then log-uniform sizes in [0, max_size]."""
    rng = random.Random(seed)
    edges = [0, 1, MIB - 1, MIB, MIB + 1, part_size - 1, part_size + 1]
    edges += [threshold - 1, threshold, threshold + 1]
    objects = [(_corpus_key(rng, i, prefix), size) for i, size in enumerate(edges)]
    objects += [
        (_corpus_key(rng, i, prefix), _log_uniform(rng, max_size)) for i in range(len(edges), count)
    ]
    deep = "/".join(["dossier au nom très long é"] * 30)  # ~850 bytes, each part < 255
    long_name = (f"{prefix}dcir/long/{deep}/fin.bin", 4 * KIB)
    if count > len(edges):  # the last slot goes to a ~900-byte key
        objects[count - 1] = long_name
    return Dataset(f"corpus{count}", tuple(objects[:count]))


def _log_uniform(rng: random.Random, max_size: int) -> int:
    return int(math.exp(rng.uniform(0, math.log(max_size + 1)))) - 1


def _corpus_key(rng: random.Random, index: int, prefix: str) -> str:
    top = "referentiels" if index % 4 == 0 else "dcir"
    depth = [f"{2019 + index % 3}", f"{index % 12 + 1:02d}", rng.choice(NAMES)][: rng.randint(1, 3)]
    return prefix + "/".join([top, *depth, f"part-{index:05d} {rng.choice(NAMES)}.parquet"])


def seed(backend: Backend, dataset: Dataset, threads: int = 16) -> None:
    """Write every object of ``dataset`` to ``backend`` with ``threads`` writers."""

    def put(item: tuple[str, int]) -> None:
        key, size = item
        backend.write(key, RandomStream(size), size)  # type: ignore[arg-type]

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(put, dataset.objects):
            pass
