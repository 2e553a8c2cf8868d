"""Multipart parts read once into one buffer, and where parts are cut.

A part is read sequentially from the source straight into one buffer of its exact size
(``readinto``: an encrypting stream encrypts into it, a hashing stream hashes it there) and
its SHA-256 is taken in the same loop, piece by piece while each piece is still in cache:
the SDK sends that buffer and signs the hash it is given instead of reading the bytes again
(docs/benchmarks.md, "one pass per byte"). An upload holds at most (parts in flight + 1) ×
part size.
"""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from hdh_migrate.backends.checksums import CHUNK, MultiHasher
from hdh_migrate.errors import PermanentError

MAX_PARTS = 10_000


def part_lengths(size: int, part_size: int, first_part_size: int | None, *, key: str) -> list[int]:
    """Part sizes: ``first_part_size`` (when set) then ``part_size``; the last shorter.
    PermanentError when that makes more than MAX_PARTS parts."""
    first = min(first_part_size or part_size, size)
    rest = size - first
    lengths = [first] + [part_size] * (rest // part_size)
    if rest % part_size:
        lengths.append(rest % part_size)
    if len(lengths) > MAX_PARTS:
        raise PermanentError(
            f"{size} bytes in parts of {part_size} would exceed {MAX_PARTS} parts",
            key=key,
            hint="raise part_size",
        )
    return lengths


def read_part(stream: BinaryIO, length: int, key: str) -> HashedBody:
    """Exactly ``length`` bytes read into one buffer, hashed (SHA-256) as they arrive."""
    return read_hashed(stream, length, key)


def read_hashed(stream: BinaryIO, length: int, key: str) -> HashedBody:
    """Exactly ``length`` bytes of ``stream`` in one ``HashedBody``, their SHA-256 taken in
    the same loop that reads them. The stream's ``readinto`` writes into the body's buffer:
    an encrypting stream encrypts one segment per call straight into it (offered the whole
    rest), a hashing one hashes it there — no intermediate copy."""
    body = HashedBody(bytes(length))  # calloc'd: pages cost memory once written
    digest = hashlib.sha256()
    readinto = getattr(stream, "readinto", None)
    filled = 0
    with body.getbuffer() as view:
        while filled < length:
            room = view[filled:]
            got = readinto(room) if readinto is not None else _read_into(stream, room)
            if not got:
                raise PermanentError(f"stream ended {length - filled} bytes early", key=key)
            digest.update(room[:got])
            filled += got
            room.release()
    body.sha256_hex = digest.hexdigest()
    body.length = length
    return body


def _read_into(stream: BinaryIO, view: memoryview) -> int:
    data = stream.read(min(CHUNK, len(view)))
    view[: len(data)] = data
    return len(data)


def check_exhausted(stream: BinaryIO, size: int, key: str) -> None:
    if stream.read(1):
        raise PermanentError(f"stream holds more than the announced {size} bytes", key=key)


class HashedBody(io.BytesIO):
    """One part's (or one small object's) bytes, sent as is: ``sha256_hex`` is their
    SHA-256, taken while they were read, which the S3 backend gives SigV4 instead of letting
    botocore read them again. Never written to once read: a retry sends the same bytes."""

    sha256_hex: str = ""
    length: int = 0

    def checksum(self, algorithm: str) -> str:
        """The base64 ``algorithm`` digest of the bytes (crc32c for a part's header)."""
        digest = MultiHasher([algorithm])
        self.feed(digest)
        return digest.b64()[algorithm]

    def feed(self, hasher: MultiHasher) -> None:
        """Update ``hasher`` with the bytes (no copy)."""
        with self.getbuffer() as view, view.toreadonly() as data:
            hasher.update(data)

    def __len__(self) -> int:
        return self.length
