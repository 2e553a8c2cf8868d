"""Streaming checksums in the form storage services speak: base64 of the raw digest.

``md5`` (Content-MD5), ``sha256`` (x-amz-checksum-sha256) and ``crc32c``
(x-amz-checksum-crc32c, big-endian 4 bytes). Feed bytes with ``update``; nothing is
buffered, so memory stays constant whatever the stream size.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO, Protocol

import google_crc32c as _google_crc32c

from hdh_migrate.errors import PermanentError

_crc32c: Any = _google_crc32c  # untyped C extension

ALGORITHMS = ("md5", "sha256", "crc32c")


#: what the digests take: bytes, or a view of a part's buffer (no copy)
Bytes = bytes | bytearray | memoryview


class _Digest(Protocol):
    def update(self, data: Bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32c:
    """CRC32C with the hashlib shape (google-crc32c, C-accelerated)."""

    def __init__(self) -> None:
        self._crc = _crc32c.Checksum()

    def update(self, data: Bytes, /) -> None:
        # google-crc32c takes bytes only (not a memoryview of a part's buffer): a copy
        self._crc.update(data if isinstance(data, bytes) else bytes(data))

    def digest(self) -> bytes:
        return bytes(self._crc.digest())


def new_digest(algorithm: str) -> _Digest:
    """A fresh streaming digest for ``algorithm`` (one of ``ALGORITHMS``)."""
    if algorithm == "crc32c":
        return _Crc32c()
    if algorithm in ("md5", "sha256"):
        return hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
    raise ValueError(f"unknown checksum algorithm {algorithm!r}; expected one of {ALGORITHMS}")


class MultiHasher:
    """Several digests over one stream; ``b64()`` maps algorithm → base64 digest."""

    def __init__(self, algorithms: Iterable[str]) -> None:
        self._digests = {name: new_digest(name) for name in algorithms}

    def update(self, data: Bytes) -> None:
        for digest in self._digests.values():
            digest.update(data)

    def b64(self) -> dict[str, str]:
        return {name: b64encode(d.digest()) for name, d in self._digests.items()}


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def checksum_b64(algorithm: str, data: Bytes) -> str:
    """The base64 checksum of ``data`` in one call (small buffers, parts)."""
    digest = new_digest(algorithm)
    digest.update(data)
    return b64encode(digest.digest())


CHUNK = 1024 * 1024


def read_exact(stream: BinaryIO, size: int, *, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
    """Yield exactly ``size`` bytes from ``stream`` in chunks, then check the stream is over.

    Raises PermanentError if the stream ends early or holds more than ``size`` bytes (the
    caller then discards what it wrote). An exception raised by the stream propagates.
    """
    remaining = size
    while remaining > 0:
        data = stream.read(min(chunk, remaining))
        if not data:
            raise PermanentError(f"stream ended after {size - remaining} of {size} bytes", key=key)
        remaining -= len(data)
        yield data
    if stream.read(1):
        raise PermanentError(f"stream holds more than the announced {size} bytes", key=key)


def check_expected(expected: Mapping[str, str], actual: Mapping[str, str], *, key: str) -> None:
    """Raise PermanentError ("checksum refused") when an expected digest differs."""
    for name, value in expected.items():
        if actual.get(name) != value:
            raise PermanentError(
                f"checksum refused: the {name} of the bytes received differs from the one sent",
                key=key,
            )


def pump(
    stream: BinaryIO,
    size: int,
    sink: Callable[[bytes], object],
    *,
    key: str,
    expected: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Copy exactly ``size`` bytes to ``sink``, validating ``expected`` checksums (base64).

    Returns the computed checksums for the algorithms in ``expected``. Raises
    PermanentError on a short/long stream or a checksum mismatch.
    """
    wanted = dict(expected or {})
    unknown = set(wanted) - set(ALGORITHMS)
    if unknown:
        raise PermanentError(f"unsupported checksum algorithm(s): {sorted(unknown)}", key=key)
    hasher = MultiHasher(wanted)
    for data in read_exact(stream, size, key=key):
        hasher.update(data)
        sink(data)
    actual = hasher.b64()
    check_expected(wanted, actual, key=key)
    return actual
