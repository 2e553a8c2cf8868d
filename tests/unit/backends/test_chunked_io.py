"""chunked_io: spans, the bounded in-order prefetcher, ChunkStream, exact blocks."""

from __future__ import annotations

import io
import threading
import time

import pytest

from hdh_migrate.backends import chunked_io
from hdh_migrate.backends.chunked_io import ChunkStream
from hdh_migrate.errors import PermanentError, PreconditionFailedError


def test_spans_cover_the_range_exactly() -> None:
    assert list(chunked_io.spans(10, 35, 10)) == [(10, 10), (20, 10), (30, 5)]
    assert list(chunked_io.spans(7, 7, 10)) == []


class Fetcher:
    """Records how many fetches run at once; returns the span as bytes."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay, self.active, self.peak, self.calls = delay, 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self, at: int, n: int) -> bytes:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
        return bytes([at % 251]) * n


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_prefetch_keeps_order_and_bounds_what_is_in_flight(depth: int) -> None:
    fetch = Fetcher()
    spans = chunked_io.spans(3, 103, 10)
    chunks = list(chunked_io.prefetched(b"abc", spans, fetch, depth))
    assert chunks[0] == b"abc"
    assert chunks[1:] == [bytes([at % 251]) * 10 for at in range(3, 103, 10)]
    assert fetch.peak <= depth and fetch.calls == 10


def test_closing_early_stops_fetching() -> None:
    fetch = Fetcher(delay=0.001)
    stream = ChunkStream(chunked_io.prefetched(b"", chunked_io.spans(0, 10**9, 10), fetch, 3))
    assert len(stream.read(25)) == 10  # raw stream: at most one chunk per read
    stream.close()
    assert fetch.calls <= 5 and stream.closed


def test_errors_from_a_fetch_surface_in_read() -> None:
    def fetch(at: int, n: int) -> bytes:
        if at >= 20:
            raise PreconditionFailedError("changed", key="k")
        return b"x" * n

    chunks = chunked_io.prefetched(b"", chunked_io.spans(0, 50, 10), fetch, 2)
    reader = io.BufferedReader(ChunkStream(chunks))
    assert reader.read(20) == b"x" * 20
    with pytest.raises(PreconditionFailedError):
        reader.read()


def test_buffered_chunk_stream_reads_exact_sizes() -> None:
    pieces = [b"ab", b"", b"cdefg", b"h"]
    reader = io.BufferedReader(ChunkStream(iter(pieces)), buffer_size=4)
    assert reader.read(3) == b"abc"
    assert reader.read(4) == b"defg"
    assert reader.read() == b"h"
    assert reader.read(1) == b""


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 30])
def test_blocks_are_cut_at_block_size(size: int) -> None:
    data = bytes(range(size))
    blocks = list(chunked_io.blocks(io.BytesIO(data), size, 10, "k"))
    assert b"".join(blocks) == data
    assert all(len(b) == 10 for b in blocks[:-1]) and all(blocks)


def test_blocks_refuse_short_and_long_streams() -> None:
    with pytest.raises(PermanentError, match="ended"):
        list(chunked_io.blocks(io.BytesIO(b"x" * 19), 20, 10, "k"))
    with pytest.raises(PermanentError, match="more than"):
        list(chunked_io.blocks(io.BytesIO(b"x" * 21), 20, 10, "k"))
