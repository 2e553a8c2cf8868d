"""Bounded-memory streaming pieces with no SDK in them: ranged spans, an in-order prefetcher
with at most ``depth`` fetches in flight, a read-only stream over byte chunks, and exact
fixed-size blocks cut from a stream. Used by the Azure backend; any backend may use them.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from hdh_migrate.backends.checksums import read_exact

MiB = 1024 * 1024


def spans(start: int, end: int, chunk: int) -> Iterator[tuple[int, int]]:
    """(offset, length) pairs covering ``[start, end)`` in ``chunk``-sized steps."""
    for at in range(start, end, chunk):
        yield at, min(chunk, end - at)


def prefetched(
    first: bytes,
    ranges: Iterator[tuple[int, int]],
    fetch: Callable[[int, int], bytes],
    depth: int,
) -> Iterator[bytes]:
    """``first``, then ``fetch(at, n)`` for each ``(at, n)`` of ``ranges``, in order, with at
    most ``depth`` fetches in flight (memory: ``depth + 1`` results). Closing the generator
    cancels what was not started and waits for what was."""
    if first:
        yield first
    if depth <= 1:
        for at, n in ranges:
            yield fetch(at, n)
        return
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(depth, thread_name_prefix="azure-read") as pool:
        try:
            for at, n in ranges:
                pending.append(pool.submit(fetch, at, n))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


class ChunkStream(io.RawIOBase):
    """A read-only binary stream over an iterator of byte chunks; ``close`` closes it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._view = memoryview(chunk)
        n = min(len(buffer), len(self._view))
        buffer[:n] = self._view[:n]
        self._view = self._view[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            self._view = memoryview(b"")
        super().close()


def blocks(stream: BinaryIO, size: int, block_size: int, key: str) -> Iterator[bytes]:
    """Exactly ``size`` bytes of ``stream`` as ``block_size`` blocks (the last may be short).
    Raises PermanentError (from read_exact) on a short or long stream, before the last
    block is followed by the commit."""
    buffer = bytearray()
    for data in read_exact(stream, size, key=key, chunk=min(block_size, 4 * MiB)):
        buffer += data
        while len(buffer) >= block_size:
            yield bytes(buffer[:block_size])
            del buffer[:block_size]
    if buffer:
        yield bytes(buffer)
