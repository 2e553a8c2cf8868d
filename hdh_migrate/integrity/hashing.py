"""``HashingReader``: digests of exactly the bytes that pass through a stream."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO


class HashingReader(io.RawIOBase):
    """Wraps a readable stream; every byte returned by ``read``/``readinto`` feeds the
    named hashlib algorithms (default SHA-256). ``digests()`` maps name → hex digest."""

    def __init__(self, src: BinaryIO, algorithms: tuple[str, ...] = ("sha256",)) -> None:
        super().__init__()
        self._src = src
        self._hashes = {name: hashlib.new(name) for name in algorithms}
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        readinto = getattr(self._src, "readinto", None)
        if readinto is not None:
            count = readinto(view) or 0
        else:
            data = self._src.read(len(view))
            count = len(data)
            view[:count] = data
        for digest in self._hashes.values():
            digest.update(view[:count])
        self.bytes_read += count
        return count

    def digests(self) -> dict[str, str]:
        return {name: digest.hexdigest() for name, digest in self._hashes.items()}

    def digest(self, name: str = "sha256") -> bytes:
        return self._hashes[name].digest()

    @property
    def sha256(self) -> str:
        return self._hashes["sha256"].hexdigest()
