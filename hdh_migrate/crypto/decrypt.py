"""Streaming HDH1 decryption: header and key commitment first, then segment by segment.

Guarantees of ``DecryptingReader`` (see docs/encryption.md, "What a reader may emit"):

* Construction reads and authenticates the header: magic, bounded fields, the expected
  object id, the envelope (wrong KEK), the key commitment. Nothing is decrypted before.
* A segment's plaintext is released only after its tag verified; a failed segment's
  buffer is wiped.
* The last segment is released only after its tag (final flag) verified *and* the source
  is at EOF, so ``read`` returning ``b""`` means the whole object authenticated.
* A missing segment, a short segment or trailing bytes raise ``IntegrityAuthError``.
* With ``authenticate_first=True`` (seekable sources) every segment is verified before the
  first plaintext byte is released: a tampered object then yields no plaintext at all.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from hdh_migrate.crypto.cipher import Envelope, KeyProvider, ObjectCipher, open_object
from hdh_migrate.crypto.format import (
    PREFIX_LEN,
    TAG_LEN,
    Header,
    header_length_from_prefix,
    parse_header,
)
from hdh_migrate.errors import IntegrityAuthError


def read_header(src: BinaryIO) -> Header:
    """Read and parse the header at the start of ``src`` (at most 4 KiB are read)."""
    prefix = _read_block(src, PREFIX_LEN, "header")
    hlen = header_length_from_prefix(prefix)
    return parse_header(prefix + _read_block(src, hlen - PREFIX_LEN, "header"))


def check_object_size(header: Header, size: int) -> None:
    """Raise IntegrityAuthError unless ``size == header_len + plaintext_len + 16·n``."""
    if size != header.ciphertext_length:
        raise IntegrityAuthError(
            f"HDH1 object {header.object_id!r} is {size} bytes, expected "
            f"{header.ciphertext_length}: truncated or extended"
        )


class SegmentDecryptor:
    """Reads and verifies segments ``index``… from ``src`` positioned at that segment."""

    def __init__(self, cipher: ObjectCipher, src: BinaryIO, index: int = 0) -> None:
        self.cipher, self.src, self.index = cipher, src, index
        self._sealed = memoryview(bytearray(cipher.header.segment_size + TAG_LEN))

    @property
    def done(self) -> bool:
        return self.index >= self.cipher.header.segment_count

    def next_length(self) -> int:
        """Plaintext length of the next segment (0 when done or for an empty object)."""
        return 0 if self.done else self.cipher.segment_plaintext_length(self.index)

    def decrypt_next_into(self, out: memoryview, *, at_end: bool = True) -> int:
        """Read, verify and decrypt the next segment into ``out[:next_length()]``. With
        ``at_end``, the final segment must be followed by EOF."""
        length = self.next_length()
        sealed = self._sealed[: length + TAG_LEN]
        _read_segment(self.src, sealed, self.index, self.cipher.header.object_id)
        if at_end and self.index == self.cipher.header.segment_count - 1:
            _expect_eof(self.src, self.cipher.header.object_id)
        written = self.cipher.decrypt_into(self.index, sealed, out[:length])
        self.index += 1
        return written


class DecryptingReader(io.RawIOBase):
    """File-like plaintext of an HDH1 object read from ``src``. Raises IntegrityAuthError
    (at construction for header/key problems, on read for segment problems)."""

    def __init__(
        self,
        src: BinaryIO,
        unwrap: KeyProvider,
        expected_object_id: str | None,
        *,
        envelope: Envelope | None = None,
        authenticate_first: bool = False,
    ) -> None:
        super().__init__()
        self.header = read_header(src)
        self.cipher = open_object(self.header, unwrap, expected_object_id, envelope)
        if authenticate_first:
            _authenticate_then_rewind(self.cipher, src)
        self._segments = SegmentDecryptor(self.cipher, src)
        self._buffer = memoryview(bytearray(self.header.segment_size))
        self._pending = self._buffer[:0]

    @property
    def plaintext_length(self) -> int:
        return self.header.plaintext_length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        while not self._pending and not self._segments.done:
            size = self._segments.next_length()
            if size and len(target) >= size:  # decrypt straight into the caller's buffer
                return self._segments.decrypt_next_into(target[:size])
            self._segments.decrypt_next_into(self._buffer[:size])
            self._pending = self._buffer[:size]
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def authenticate(
    src: BinaryIO,
    unwrap: KeyProvider,
    expected_object_id: str | None,
    *,
    envelope: Envelope | None = None,
) -> Header:
    """Verify a whole object (header, commitment, every segment, EOF) releasing nothing.
    Returns the header. Raises IntegrityAuthError."""
    header = read_header(src)
    cipher = open_object(header, unwrap, expected_object_id, envelope)
    _verify_segments(cipher, src)
    return header


def _verify_segments(cipher: ObjectCipher, src: BinaryIO) -> None:
    scratch = memoryview(bytearray(cipher.header.segment_size))
    segments = SegmentDecryptor(cipher, src)
    while not segments.done:
        segments.decrypt_next_into(scratch)
    scratch[:] = bytes(len(scratch))


def _authenticate_then_rewind(cipher: ObjectCipher, src: BinaryIO) -> None:
    if not (hasattr(src, "seekable") and src.seekable()):
        raise ValueError("authenticate_first needs a seekable source")
    start = src.tell()
    _verify_segments(cipher, src)
    src.seek(start)


def _read_block(src: BinaryIO, count: int, what: str) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = src.read(count - len(data))
        if not chunk:
            raise IntegrityAuthError(f"HDH1 object truncated inside the {what}")
        data += chunk
    return bytes(data)


def _read_segment(src: BinaryIO, view: memoryview, index: int, object_id: str) -> None:
    readinto = getattr(src, "readinto", None)
    filled = 0
    while filled < len(view):
        part = view[filled:]
        got = readinto(part) if readinto else _copy_read(src, part)
        if not got:
            raise IntegrityAuthError(
                f"HDH1 object {object_id!r} truncated: segment {index} is missing or short",
                hint="the object was cut short; restore it from source",
            )
        filled += got


def _copy_read(src: BinaryIO, view: memoryview) -> int:
    data = src.read(len(view))
    view[: len(data)] = data
    return len(data)


def _expect_eof(src: BinaryIO, object_id: str) -> None:
    if src.read(1):
        raise IntegrityAuthError(
            f"HDH1 object {object_id!r} has bytes after its final segment",
            hint="the object was extended or concatenated",
        )
