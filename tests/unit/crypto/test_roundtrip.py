"""Round trips and ranged reads (hypothesis), and the encrypt-side contracts."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdh_migrate.crypto import (
    DecryptingReader,
    Encryptor,
    SourceLengthError,
    decrypt_range,
    open_object,
    plan_range,
    read_header,
)
from hdh_migrate.keys import FileKeyProvider

SEG = 64
KEK = FileKeyProvider.from_bytes(bytes(range(32)))
sizes = st.integers(min_value=0, max_value=3 * SEG + 1)
Seal = Callable[..., bytes]


def _seal(data: bytes, seg: int = SEG) -> tuple[Encryptor, bytes]:
    enc = Encryptor(KEK, "ds/x", len(data), seg)
    return enc, b"".join(enc.encrypt_stream(io.BytesIO(data)))


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=0, max_size=3 * SEG + 1), chunk=st.integers(1, 3 * SEG))
def test_round_trip(data: bytes, chunk: int) -> None:
    enc, blob = _seal(data)
    assert len(blob) == enc.ciphertext_length
    reader = DecryptingReader(io.BytesIO(blob), KEK, "ds/x")
    out = bytearray()
    while piece := reader.read(chunk):
        out += piece
    assert bytes(out) == data


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=1, max_size=3 * SEG + 1), bounds=st.data())
def test_ranged_read_equals_slice(data: bytes, bounds: st.DataObject) -> None:
    first = bounds.draw(st.integers(0, len(data) - 1))
    last = bounds.draw(st.integers(first, len(data) - 1))
    _, blob = _seal(data)
    header = read_header(io.BytesIO(blob))
    start, end, index = plan_range(header, first, last)
    assert index == first // SEG
    assert (start - header.header_length) % (SEG + 16) == 0
    cipher = open_object(header, KEK, "ds/x")
    window = io.BytesIO(blob[start : end + 1])  # only the needed segments are fetched
    assert b"".join(decrypt_range(cipher, window, first, last)) == data[first : last + 1]
    assert end - start + 1 <= (last // SEG - first // SEG + 1) * (SEG + 16)


def test_range_outside_plaintext_is_refused() -> None:
    _, blob = _seal(b"abc")
    header = read_header(io.BytesIO(blob))
    for first, last in ((0, 3), (2, 1), (-1, 0)):
        with pytest.raises(ValueError, match="outside"):
            plan_range(header, first, last)


@settings(max_examples=50, deadline=None)
@given(length=sizes, chunk=st.integers(1, 200))
def test_encrypting_reader_matches_stream(length: int, chunk: int) -> None:
    data = bytes(i % 256 for i in range(length))
    enc, blob = _seal(data)
    reader = enc.reader(io.BytesIO(data))
    assert len(reader) == len(blob)
    out = bytearray()
    while piece := reader.read(chunk):
        out += piece
    assert bytes(out) == blob  # same header and keys: deterministic ciphertext


def test_encrypting_reader_zero_copy_readinto() -> None:
    data = bytes(range(200))
    enc, blob = _seal(data)
    reader = enc.reader(io.BytesIO(data))
    buf = bytearray(1000)
    got = bytearray()
    while count := reader.readinto(buf):
        got += buf[:count]
    assert bytes(got) == blob


def test_decrypting_reader_big_buffer_readinto() -> None:
    data = bytes(range(200))
    _, blob = _seal(data)
    reader = DecryptingReader(io.BytesIO(blob), KEK, "ds/x")
    buf, got = bytearray(500), bytearray()
    while count := reader.readinto(buf):
        got += buf[:count]
    assert bytes(got) == data


@pytest.mark.parametrize("delivered", [0, 1, 63, 64, 127, 150])
def test_short_source_raises_and_never_emits_the_final_segment(delivered: int) -> None:
    enc = Encryptor(KEK, "ds/x", 151, SEG)  # 3 segments
    chunks: list[bytes] = []
    with pytest.raises(SourceLengthError, match="shorter"):
        for chunk in enc.encrypt_stream(io.BytesIO(bytes(delivered))):
            chunks.append(chunk)
    assert len(chunks) - 1 < 3  # header + fewer than 3 segments: no final segment
    assert len(chunks) - 1 == delivered // SEG


@pytest.mark.parametrize(("announced", "extra"), [(0, 1), (64, 1), (100, 64)])
def test_long_source_raises_before_the_final_segment(announced: int, extra: int) -> None:
    enc = Encryptor(KEK, "ds/x", announced, SEG)
    chunks: list[bytes] = []
    with pytest.raises(SourceLengthError, match="longer"):
        for chunk in enc.encrypt_stream(io.BytesIO(bytes(announced + extra))):
            chunks.append(chunk)
    assert len(chunks) == 1 + enc.cipher.header.segment_count - 1


def test_source_error_is_permanent() -> None:
    from hdh_migrate.errors import PermanentError

    assert issubclass(SourceLengthError, PermanentError)


def test_source_without_readinto() -> None:
    class Plain:
        def __init__(self, data: bytes) -> None:
            self._io = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._io.read(min(n, 5) if n > 0 else n)

    data = bytes(range(150))
    enc = Encryptor(KEK, "ds/x", len(data), SEG)
    blob = b"".join(enc.encrypt_stream(Plain(data)))  # type: ignore[arg-type]
    assert DecryptingReader(Plain(blob), KEK, "ds/x").read() == data  # type: ignore[arg-type]


def test_memory_is_bounded_by_segment_buffers() -> None:
    """A large object through a 64-byte-segment pipeline keeps no growing state."""
    import tracemalloc

    length = 2_000_000
    enc = Encryptor(KEK, "ds/big", length, 1 << 16)
    src = io.BytesIO(bytes(length))
    tracemalloc.start()
    reader = DecryptingReader(enc.reader(src), KEK, "ds/big")  # type: ignore[arg-type]
    total = 0
    while piece := reader.read(1 << 16):
        total += len(piece)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == length
    assert peak < 1_000_000


@pytest.mark.parametrize("length", [0, 1, 64, 65, 193])
def test_in_memory_source_gives_the_same_ciphertext(length: int) -> None:
    data = bytes(i % 251 for i in range(length))
    enc, blob = _seal(data)
    for source in (data, bytearray(data), memoryview(data)):
        assert enc.reader(source).read() == blob


def test_in_memory_source_of_the_wrong_length() -> None:
    enc = Encryptor(KEK, "ds/x", 100, SEG)
    for wrong in (bytes(99), bytes(101)):
        with pytest.raises(SourceLengthError):
            enc.reader(wrong).read()
