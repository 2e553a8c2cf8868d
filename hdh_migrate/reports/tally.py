"""Bounded-memory accumulators fed one object at a time: inventory, diff, request counts.

Nothing here holds more than a fixed number of examples (``EXAMPLES``) and the ``LARGEST``
biggest objects, whatever the dataset size.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from hdh_migrate.reports.model import Bucket, Inventory, ObjectRow, Sample

EXAMPLES = 10
LARGEST = 10
MAX_METADATA_NAMES = 200


def add_to(sample: Sample, key: str, size: int, note: str = "") -> None:
    """Count an object in ``sample``; keep it as an example while there is room."""
    sample.count += 1
    sample.bytes += size
    if len(sample.examples) < EXAMPLES:
        sample.examples.append(ObjectRow(key, size, note))


def bucket_of(size: int) -> int:
    """Log2 bucket index: 0 holds empty objects, b ≥ 1 holds [2^(b-1), 2^b)."""
    return size.bit_length()


def bucket_bounds(index: int) -> tuple[int, int]:
    return (0, 1) if index == 0 else (1 << (index - 1), 1 << index)


@dataclass
class InventoryTally:
    """Accumulates one dataset's inventory."""

    inventory: Inventory = field(default_factory=Inventory)
    _buckets: dict[int, list[int]] = field(default_factory=dict)
    _largest: list[tuple[int, str]] = field(default_factory=list)

    def add(self, key: str, size: int, flag: str | None, lost: Iterable[str] = ()) -> None:
        inv = self.inventory
        inv.objects += 1
        inv.bytes += size
        counts = self._buckets.setdefault(bucket_of(size), [0, 0])
        counts[0] += 1
        counts[1] += size
        self._keep_largest(key, size)
        self._flag(key, size, flag)
        self._metadata(list(lost))

    def _keep_largest(self, key: str, size: int) -> None:
        if len(self._largest) < LARGEST:
            heapq.heappush(self._largest, (size, key))
        elif size > self._largest[0][0]:
            heapq.heapreplace(self._largest, (size, key))

    def _flag(self, key: str, size: int, flag: str | None) -> None:
        if flag is None:
            return
        inv = self.inventory
        if flag.startswith("archive"):
            add_to(inv.archive_tier, key, size, flag)
        elif flag.startswith("too large"):
            add_to(inv.over_limit, key, size, flag)
        else:
            add_to(inv.bad_names, key, size, flag)

    def _metadata(self, lost: list[str]) -> None:
        if not lost:
            return
        inv = self.inventory
        inv.objects_losing_metadata += 1
        for item in lost:
            if (
                item in inv.metadata_not_carried
                or len(inv.metadata_not_carried) < MAX_METADATA_NAMES
            ):
                inv.metadata_not_carried[item] = inv.metadata_not_carried.get(item, 0) + 1

    def finish(self) -> Inventory:
        """The inventory with a contiguous histogram (empty buckets between included)."""
        inv = self.inventory
        if self._buckets:
            low, high = min(self._buckets), max(self._buckets)
            inv.histogram = [
                Bucket(*bucket_bounds(i), *self._buckets.get(i, [0, 0]))
                for i in range(low, high + 1)
            ]
        inv.largest = [ObjectRow(k, s) for s, k in sorted(self._largest, reverse=True)]
        return inv


@dataclass(frozen=True)
class Transfer:
    """How objects are written and verified: the inputs of the request counts."""

    segment_size: int = 1 << 20
    header_bytes: int = 256
    part_size: int = 64 << 20
    multipart_threshold: int = 64 << 20
    verify_share: float = 1.0  # share of objects read back (full 1.0, sample P/100, metadata 0)


@dataclass
class RequestTally:
    """Objects to move (new + changed) and the requests moving them takes."""

    objects: int = 0
    bytes: int = 0
    stored_bytes: int = 0
    puts: int = 0
    gets: int = 0
    heads: int = 0
    lists: int = 0
    verify_reads: float = 0.0

    def add(self, size: int, transfer: Transfer) -> None:
        """One object: a source GET, PUTs (one, or create + parts + complete), a HEAD to
        confirm, and a read-back GET for the share verified in full."""
        stored = stored_size(size, transfer)
        self.objects += 1
        self.bytes += size
        self.stored_bytes += stored
        self.gets += 1
        self.heads += 1
        if stored >= transfer.multipart_threshold:
            self.puts += 2 + -(-stored // transfer.part_size)
        else:
            self.puts += 1
        self.verify_reads += transfer.verify_share

    def merge(self, other: RequestTally) -> None:
        for name in ("objects", "bytes", "stored_bytes", "puts", "gets", "heads", "lists"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.verify_reads += other.verify_reads

    @property
    def total_gets(self) -> int:
        """Source reads plus target read-backs for verification."""
        return self.gets + round(self.verify_reads)


def stored_size(size: int, transfer: Transfer) -> int:
    """Bytes stored at the target: HDH1 header + plaintext + a 16-byte tag per segment."""
    segments = max(1, -(-size // transfer.segment_size))
    return transfer.header_bytes + size + 16 * segments
