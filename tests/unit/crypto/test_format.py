"""Header layout, strict bounded parsing, size arithmetic."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import pytest

from hdh_migrate.crypto import (
    MAX_HEADER_LEN,
    Encryptor,
    aligned_part_size,
    ciphertext_length,
    parse_header,
    read_header,
    segment_count,
)
from hdh_migrate.crypto.format import log2_of
from hdh_migrate.errors import IntegrityAuthError, UsageError
from hdh_migrate.keys import FileKeyProvider

Seal = Callable[..., bytes]


def test_header_fields_round_trip(kek: FileKeyProvider) -> None:
    enc = Encryptor(kek, "données/x.csv", 1000, 256)
    header = parse_header(enc.header)
    assert (header.object_id, header.kek_ref, header.plaintext_length) == (
        "données/x.csv",
        kek.ref,
        1000,
    )
    assert header.segment_size == 256 and header.segment_count == 4
    assert header.header_length == len(enc.header) <= MAX_HEADER_LEN
    assert enc.header[:8] == b"HDH1\x01\x01\x08\x00"
    assert struct.unpack(">I", enc.header[8:12])[0] == len(enc.header)


def test_fresh_salt_and_dek_per_object(kek: FileKeyProvider) -> None:
    a, b = (parse_header(Encryptor(kek, "ds/x", 10, 64).header) for _ in range(2))
    assert a.salt != b.salt and a.wrapped_dek != b.wrapped_dek


@pytest.mark.parametrize(("length", "count"), [(0, 1), (1, 1), (64, 1), (65, 2), (192, 3)])
def test_segment_count(length: int, count: int) -> None:
    assert segment_count(length, 64) == count
    assert ciphertext_length(length, 64, 100) == 100 + length + 16 * count


@pytest.mark.parametrize("size", [0, 3, 32, 100, 1 << 25])
def test_segment_size_must_be_an_allowed_power_of_two(size: int) -> None:
    with pytest.raises(UsageError):
        log2_of(size)


def test_object_id_limits(kek: FileKeyProvider) -> None:
    for bad in ("", "a\x00b", "x" * 1025, "tab\there"):
        with pytest.raises(UsageError):
            Encryptor(kek, bad, 1, 64)


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"XDH1", "magic"),
        (4, b"\x02", "version"),
        (5, b"\x02", "algorithm"),
        (6, b"\x05", "segment size"),
        (6, b"\x19", "segment size"),
        (7, b"\x01", "flags"),
        (8, struct.pack(">I", 5000), "length"),
        (8, struct.pack(">I", 10), "length"),
    ],
)
def test_prefix_rejected(
    kek: FileKeyProvider, seal: Seal, offset: int, value: bytes, message: str
) -> None:
    blob = bytearray(seal(kek, b"abc"))
    blob[offset : offset + len(value)] = value
    with pytest.raises(IntegrityAuthError, match=message):
        read_header(io.BytesIO(bytes(blob)))


def test_field_overrunning_header_is_rejected(kek: FileKeyProvider) -> None:
    enc = Encryptor(kek, "ds/x", 1, 64)
    blob = bytearray(enc.header)
    blob[52:54] = struct.pack(">H", 4000)  # object id length past the end
    with pytest.raises(IntegrityAuthError):
        parse_header(bytes(blob))


def test_invalid_utf8_object_id_is_rejected(kek: FileKeyProvider) -> None:
    blob = bytearray(Encryptor(kek, "ds/x", 1, 64).header)
    blob[54] = 0xFF
    with pytest.raises(IntegrityAuthError, match="UTF-8"):
        parse_header(bytes(blob))


def test_truncated_header_is_rejected(kek: FileKeyProvider, seal: Seal) -> None:
    blob = seal(kek, b"abc")
    for cut in (0, 5, 19, 20, 60):
        with pytest.raises(IntegrityAuthError, match=r"truncated|shorter"):
            read_header(io.BytesIO(blob[:cut]))


def test_read_header_reads_no_more_than_the_header(kek: FileKeyProvider, seal: Seal) -> None:
    blob = seal(kek, b"x" * 500)
    src = io.BytesIO(blob)
    header = read_header(src)
    assert src.tell() == header.header_length


@pytest.mark.parametrize("length", [0, 1, 10 << 20, 100 << 30, 5 << 40])
def test_aligned_part_size(length: int) -> None:
    seg, hlen = 1 << 20, 180
    first, part = aligned_part_size(length, seg, hlen)
    assert (first - hlen) % (seg + 16) == 0 and part % (seg + 16) == 0
    assert first - hlen == part >= 5 << 20
    total = ciphertext_length(length, seg, hlen)
    parts = 1 + max(0, -(-(total - first) // part))
    assert parts <= 9000


def test_aligned_part_size_small_segments() -> None:
    first, part = aligned_part_size(10_000, 64, 100, min_part=1000)
    assert part == 13 * 80 and first == 100 + part


def test_final_flag_separates_the_last_segment(kek: FileKeyProvider, seal: Seal) -> None:
    """Segment i opens only with nonce (i, final = i == n-1): a non-final segment can
    never pass as the end of the object, whatever the length field says."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from hdh_migrate.crypto import keyschedule as ks
    from hdh_migrate.crypto.cipher import open_object

    blob = seal(kek, bytes(150), "ds/f")  # 3 segments
    header = read_header(io.BytesIO(blob))
    prk = ks.extract(header.salt, kek.unwrap(header.wrapped_dek))
    aead = AESGCM(ks.payload_key(prk, header.ctx, 0))
    open_object(header, kek, "ds/f")  # the commitment holds for these keys
    for index in range(3):
        start = header.header_length + index * 80
        sealed = blob[start : start + (80 if index < 2 else 22 + 16)]
        final = index == 2
        aead.decrypt(ks.nonce(index, final), sealed, header.ctx)
        with pytest.raises(InvalidTag):
            aead.decrypt(ks.nonce(index, not final), sealed, header.ctx)
