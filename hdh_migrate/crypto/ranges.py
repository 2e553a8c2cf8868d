"""Ranged plaintext reads and multipart alignment: whole segments only.

Ranges are inclusive, like HTTP ``Range`` and ``Backend.open_read(range=(start, end))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from hdh_migrate.crypto.cipher import ObjectCipher
from hdh_migrate.crypto.decrypt import SegmentDecryptor
from hdh_migrate.crypto.format import TAG_LEN, Header, segment_count

MIB = 1 << 20


def plan_range(header: Header, first: int, last: int) -> tuple[int, int, int]:
    """For plaintext bytes ``first``…``last`` (inclusive) return the inclusive ciphertext
    byte range holding the needed segments, and the index of the first segment."""
    if not 0 <= first <= last < header.plaintext_length:
        raise ValueError(
            f"range {first}-{last} outside the plaintext (0-{header.plaintext_length - 1})"
        )
    size, sealed = header.segment_size, header.segment_size + TAG_LEN
    i, j = first // size, last // size
    start = header.header_length + i * sealed
    end = min(header.header_length + (j + 1) * sealed, header.ciphertext_length) - 1
    return start, end, i


def decrypt_range(
    cipher: ObjectCipher, segments: BinaryIO, first: int, last: int
) -> Iterator[bytes]:
    """Decrypt plaintext bytes ``first``…``last`` (inclusive) from ``segments``, the stream of
    the ciphertext range ``plan_range`` returned. Each chunk is released after its segment's
    tag verified (the final flag is checked when the range includes the last segment)."""
    _, _, index = plan_range(cipher.header, first, last)
    size = cipher.header.segment_size
    reader = SegmentDecryptor(cipher, segments, index)
    buffer = memoryview(bytearray(size))
    while reader.index <= last // size:
        base = reader.index * size
        length = reader.decrypt_next_into(buffer, at_end=False)
        lo, hi = max(first - base, 0), min(last + 1 - base, length)
        yield bytes(buffer[lo:hi])


def aligned_part_size(
    plaintext_length: int,
    segment_size: int,
    header_length: int,
    min_part: int = 5 * MIB,
    max_parts: int = 9000,
    max_part: int = 5 * 1024 * MIB,
) -> tuple[int, int]:
    """Multipart sizes that cut ciphertext on segment boundaries: part 1 is header + k
    segments, every later part k·(P+16) bytes, k the smallest count making parts at least
    ``min_part`` bytes and at most ``max_parts`` parts. Returns (first_part, part)."""
    sealed = segment_size + TAG_LEN
    count = segment_count(plaintext_length, segment_size)
    k = max(-(-min_part // sealed), -(-count // max_parts), 1)
    if k * sealed > max_part:
        raise ValueError(f"no aligned part size fits {max_parts} parts of at most {max_part}")
    return header_length + k * sealed, k * sealed
