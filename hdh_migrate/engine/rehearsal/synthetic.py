"""Synthetic data shaped like a dataset, for rehearsals: names and sizes, then random bytes.

Every dataset gets the edge cases that break copy tools: 0 B, 1 B, an encryption segment
and a part ± 1 byte, the multipart threshold ± 1, Unicode in both normal forms (NFC and
NFD, in different folders), spaces, ``%``, ``+``, ``#``, a deep prefix and a ~900-byte key.
Then either a default mix of small log-uniform objects, or — from an audit inventory
(``hdh-migrate audit --format json``) — as many objects per size class as the real dataset
has, scaled down to ``max_objects``. Names are made to pass the dataset's ``include``
globs, and one object per ``exclude`` glob checks that the excludes hold. Contents are
random bytes produced as they are written (bounded memory).
"""

from __future__ import annotations

import io
import math
import os
import random
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from hdh_migrate.backends.base import Backend
from hdh_migrate.crypto.format import DEFAULT_SEGMENT_SIZE
from hdh_migrate.stages.inventory import selected

KIB = 1 << 10
_DEEP = "/".join(f"niveau-{i:02d}" for i in range(16))
_LONG = "/".join(["dossier au nom très long é"] * 30)  # ~850 bytes, each part < 255
NAMED = (
    "noms/avec des espaces/fichier 1.csv",
    "noms/taux 100%.csv",
    "noms/a+b=c.csv",
    "noms/naissances#2019.csv",
    unicodedata.normalize("NFC", "noms/nfc/résumé été.csv"),
    unicodedata.normalize("NFD", "noms/nfd/résumé été.csv"),
    "noms/日本語 テスト.csv",
    f"{_DEEP}/profond.csv",
    f"long/{_LONG}/fin.bin",
)


@dataclass(frozen=True)
class SeedObject:
    """One object to write: ``key`` relative to the dataset prefix; ``selected`` when the
    dataset's include/exclude globs keep it (what a run must copy)."""

    key: str
    size: int
    selected: bool = True


def edge_cases(part_size: int, threshold: int) -> list[tuple[str, int]]:
    """The edge sizes and names every rehearsal dataset holds."""
    segment = DEFAULT_SEGMENT_SIZE
    sizes = {
        "zero": 0,
        "one": 1,
        "segment-minus-1": segment - 1,
        "segment": segment,
        "segment-plus-1": segment + 1,
        "part-minus-1": part_size - 1,
        "part-plus-1": part_size + 1,
        "threshold-minus-1": threshold - 1,
        "threshold-plus-1": threshold + 1,
    }
    edges = [(f"edges/{name}.bin", size) for name, size in sizes.items()]
    return edges + [(name, 1 + i * 37) for i, name in enumerate(NAMED)]


def default_mix(count: int, max_size: int = 256 * KIB, seed: int = 2026) -> list[tuple[str, int]]:
    """``count`` objects, log-uniform sizes in [0, max_size], four folders."""
    rng = random.Random(seed)  # noqa: S311 — sizes, not secrets: reproducible on purpose
    return [
        (f"lot/{i % 4}/part-{i:05d}.parquet", _log_uniform(rng, max_size)) for i in range(count)
    ]


def from_inventory(
    audit: dict[str, Any], dataset: str, max_objects: int, max_size: int
) -> list[tuple[str, int]] | None:
    """Objects per size class of ``dataset`` in an audit JSON report, scaled down to about
    ``max_objects`` (rounded; each class keeps at least one, so rare sizes are rehearsed
    too), sizes capped at ``max_size``. None when the report has no inventory for it."""
    entry = next((d for d in audit.get("datasets", []) if d.get("name") == dataset), None)
    inventory = (entry or {}).get("inventory") or {}
    classes = [c for c in inventory.get("histogram", []) if int(c.get("count", 0)) > 0]
    if not classes:
        return None
    total = sum(int(c["count"]) for c in classes)
    scale = min(1.0, max_objects / total)
    objects = []
    for index, shape in enumerate(classes):
        count = max(1, round(int(shape["count"]) * scale))
        size = min(int(shape["bytes"]) // int(shape["count"]), max_size)
        objects += [(f"inventaire/{index:02d}/objet-{i:05d}.bin", size) for i in range(count)]
    return objects


def shaped(
    objects: Iterable[tuple[str, int]], include: Sequence[str], exclude: Sequence[str]
) -> list[SeedObject]:
    """Names adjusted to pass ``include``; one object per ``exclude`` glob; each marked
    with whether the dataset's selection keeps it."""
    out = [_kept(_conform(key, include), size, include, exclude) for key, size in objects]
    for index, pattern in enumerate(exclude):
        name = pattern.replace("*", f"x{index}").replace("?", "x")
        key = name if "/" in pattern else f"markers/{name}"
        out.append(_kept(key, 10, include, exclude))
    return out


def _kept(key: str, size: int, include: Sequence[str], exclude: Sequence[str]) -> SeedObject:
    return SeedObject(key, size, selected(key, include, exclude))


def _conform(key: str, include: Sequence[str]) -> str:
    if not include or selected(key, include, ()):
        return key
    path = PurePosixPath(key)
    for pattern in include:
        if "/" in pattern:
            continue
        name = pattern.replace("*", path.stem, 1).replace("*", "").replace("?", "x")
        candidate = str(path.with_name(name)) if name else key
        if selected(candidate, include, ()):
            return candidate
    return key


def _log_uniform(rng: random.Random, max_size: int) -> int:
    return int(math.exp(rng.uniform(0, math.log(max_size + 1)))) - 1


class RandomStream(io.RawIOBase):
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


def seed(backend: Backend, prefix: str, objects: Sequence[SeedObject], threads: int = 8) -> None:
    """Write every object under ``prefix`` with ``threads`` writers."""

    def put(item: SeedObject) -> None:
        backend.write(prefix + item.key, RandomStream(item.size), item.size)  # type: ignore[arg-type]

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(put, objects):
            pass
