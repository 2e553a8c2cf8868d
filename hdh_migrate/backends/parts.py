"""Multipart parts held as the chunks they were read in, and where parts are cut.

A part is read sequentially from the source into a list of chunks and handed to the SDK as
a seekable stream over those chunks: the bytes are never joined into a second copy, so an
upload holds at most (parts in flight + 1) × part size.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

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


def read_part(stream: BinaryIO, length: int, key: str) -> PartBuffer:
    """Exactly ``length`` bytes as a list of chunks (never joined: no second copy)."""
    chunks: list[bytes] = []
    filled = 0
    while filled < length:
        chunk = stream.read(min(CHUNK, length - filled))
        if not chunk:
            raise PermanentError(f"stream ended {length - filled} bytes early", key=key)
        chunks.append(bytes(chunk))
        filled += len(chunk)
    return PartBuffer(chunks, length)


def check_exhausted(stream: BinaryIO, size: int, key: str) -> None:
    if stream.read(1):
        raise PermanentError(f"stream holds more than the announced {size} bytes", key=key)


class PartBuffer(io.RawIOBase):
    """One part held as the chunks it was read in: a seekable stream botocore can send
    (and rewind on its own retry) without ever joining the chunks into a second copy."""

    def __init__(self, chunks: list[bytes], length: int) -> None:
        self.chunks = chunks
        self.length = length
        self._pos = self._index = self._inner = 0  # position, as (chunk index, offset)

    def checksum(self, algorithm: str) -> str:
        digest = MultiHasher([algorithm])
        for chunk in self.chunks:
            digest.update(chunk)
        return digest.b64()[algorithm]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.length}[whence]
        self._pos = max(0, min(self.length, base + offset))
        self._index, self._inner = 0, self._pos
        while self._index < len(self.chunks) and self._inner >= len(self.chunks[self._index]):
            self._inner -= len(self.chunks[self._index])
            self._index += 1
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view) and self._index < len(self.chunks):
            chunk = self.chunks[self._index]
            piece = chunk[self._inner : self._inner + len(view) - written]
            view[written : written + len(piece)] = piece
            written += len(piece)
            self._inner += len(piece)
            if self._inner >= len(chunk):
                self._index, self._inner = self._index + 1, 0
        self._pos += written
        return written

    def __len__(self) -> int:
        return self.length
