"""Streaming HDH1 encryption with bounded memory: one plaintext and one ciphertext buffer.

The plaintext length is part of the header, so the source must deliver exactly that many
bytes: a short or long source raises ``SourceLengthError`` and the final segment (the one
whose nonce carries the final flag) is never produced for it.

Never encrypt different plaintext under one header: an ``Encryptor`` may be re-run only on
a source pinned to the same version (ETag). If the source changed, build a new Encryptor
(fresh salt and data key).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from hdh_migrate.crypto.cipher import KeyProvider, ObjectCipher, open_object, seal_header
from hdh_migrate.crypto.format import DEFAULT_SEGMENT_SIZE, TAG_LEN, parse_header
from hdh_migrate.errors import PermanentError


class SourceLengthError(PermanentError):
    """The plaintext source delivered fewer or more bytes than the announced length."""


class Encryptor:
    """Encrypts one object. ``header`` is the exact header bytes; ``ciphertext_length`` the
    total size of header + segments. ``dek``/``salt`` are for test vectors only."""

    def __init__(
        self,
        provider: KeyProvider,
        object_id: str,
        plaintext_length: int,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        *,
        dek: bytes | None = None,
        salt: bytes | None = None,
    ) -> None:
        self.cipher: ObjectCipher = seal_header(
            provider, object_id, plaintext_length, segment_size, dek=dek, salt=salt
        )
        self.header: bytes = self.cipher.header.raw
        self.ciphertext_length: int = self.cipher.header.ciphertext_length

    @classmethod
    def resume(
        cls,
        provider: KeyProvider,
        header: bytes,
        object_id: str,
        plaintext_length: int,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
    ) -> Encryptor:
        """The Encryptor of an existing header (a journaled one: salt and wrapped DEK, no
        plaintext key): the DEK is unwrapped by ``provider`` and its commitment checked.
        It produces exactly the bytes the first one did, for the same plaintext: only ever
        use it on the source version the header was made for (pinned by its ETag).
        Raises PermanentError when the header does not describe this object."""
        parsed = parse_header(header)
        if (parsed.object_id, parsed.plaintext_length, parsed.segment_size) != (
            object_id,
            plaintext_length,
            segment_size,
        ):
            raise PermanentError(
                "the journaled header describes another object, length or segment size",
                key=object_id,
            )
        self = cls.__new__(cls)
        self.cipher = open_object(parsed, provider, object_id)
        self.header = parsed.raw
        self.ciphertext_length = parsed.ciphertext_length
        return self

    def reader(self, src: Source) -> EncryptingReader:
        """A file-like object whose ``read`` returns header + ciphertext of ``src`` (a
        stream, or the whole plaintext as a bytes-like object, encrypted without a copy)."""
        return EncryptingReader(self, src)

    def encrypt_stream(self, src: Source) -> Iterator[bytes]:
        """Yield the header, then one bytes object per ciphertext segment."""
        yield self.header
        for segment in SegmentEncryptor(self.cipher, src).segments():
            yield bytes(segment)


#: A plaintext source: a readable stream, or the whole plaintext already in memory
#: (bytes-like: encrypted in place of a copy).
Source = BinaryIO | bytes | bytearray | memoryview


class SegmentEncryptor:
    """Encrypts plaintext segments ``start``…``stop-1`` into reused buffers. A stream
    ``src`` must be positioned at segment ``start``; a bytes-like ``src`` is the whole
    plaintext (no copy is made)."""

    def __init__(
        self, cipher: ObjectCipher, src: Source, start: int = 0, stop: int | None = None
    ) -> None:
        self.cipher = cipher
        self.index = start
        self.stop = cipher.header.segment_count if stop is None else stop
        if isinstance(src, bytes | bytearray | memoryview):
            self._view: memoryview | None = _whole_plaintext(src, cipher)
        else:
            self._view, self.src = None, src
            self._plain = memoryview(bytearray(largest_segment(cipher)))

    def next_length(self) -> int:
        """Ciphertext length of the next segment, 0 when done."""
        if self.index >= self.stop:
            return 0
        return self.cipher.segment_plaintext_length(self.index) + TAG_LEN

    def encrypt_next_into(self, out: memoryview) -> int:
        """Read and encrypt the next segment into ``out[:next_length()]``."""
        length = self.next_length() - TAG_LEN
        plain = self._plaintext(length)
        written = self.cipher.encrypt_into(self.index, plain, out[: length + TAG_LEN])
        self.index += 1
        return written

    def _plaintext(self, length: int) -> memoryview:
        if self._view is not None:
            offset = self.index * self.cipher.header.segment_size
            return self._view[offset : offset + length]
        plain = self._plain[:length]
        _read_exact(self.src, plain, self.index)
        if self.index == self.cipher.header.segment_count - 1:
            _expect_eof(self.src)
        return plain

    def segments(self) -> Iterator[memoryview]:
        """Yield each ciphertext segment as a view of one reused buffer (valid until the
        next iteration)."""
        out = memoryview(bytearray(largest_segment(self.cipher) + TAG_LEN))
        while size := self.next_length():
            self.encrypt_next_into(out[:size])
            yield out[:size]


class EncryptingReader(io.RawIOBase):
    """File-like HDH1 ciphertext of ``src``: exactly ``length`` bytes, then EOF.

    ``readinto`` with a buffer of at least one segment encrypts straight into it.
    """

    def __init__(self, encryptor: Encryptor, src: Source) -> None:
        super().__init__()
        self.length = encryptor.ciphertext_length
        self._segments = SegmentEncryptor(encryptor.cipher, src)
        self._pending = memoryview(encryptor.header)
        self._buffer = memoryview(bytearray(largest_segment(encryptor.cipher) + TAG_LEN))

    def __len__(self) -> int:
        return self.length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        target = memoryview(buffer).cast("B")
        if not target:
            return 0
        if not self._pending:
            size = self._segments.next_length()
            if size == 0:
                return 0
            if len(target) >= size:  # zero-copy: encrypt straight into the caller's buffer
                return self._segments.encrypt_next_into(target[:size])
            self._segments.encrypt_next_into(self._buffer[:size])
            self._pending = self._buffer[:size]
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def largest_segment(cipher: ObjectCipher) -> int:
    """Plaintext bytes of the object's largest segment: its buffers need no more. A 4 KiB
    object encrypted with 1 MiB segments used to allocate (and zero) two 1 MiB buffers —
    each its own mmap — ~4 % of the client CPU on small objects (docs/benchmarks.md)."""
    return min(cipher.header.segment_size, cipher.header.plaintext_length)


def _whole_plaintext(src: bytes | bytearray | memoryview, cipher: ObjectCipher) -> memoryview:
    view = memoryview(src).cast("B")
    if len(view) != cipher.header.plaintext_length:
        raise SourceLengthError(
            f"the plaintext buffer holds {len(view)} bytes, the header announces "
            f"{cipher.header.plaintext_length}"
        )
    return view


def _read_exact(src: BinaryIO, view: memoryview, index: int) -> None:
    readinto = getattr(src, "readinto", None)
    filled = 0
    while filled < len(view):
        got = readinto(view[filled:]) if readinto else _read_into(src, view[filled:])
        if not got:
            raise SourceLengthError(
                f"the source ended early in segment {index}: it is shorter than announced",
                hint="the source changed while it was read; start the object over",
            )
        filled += got


def _expect_eof(src: BinaryIO) -> None:
    if src.read(1):
        raise SourceLengthError(
            "the source is longer than announced",
            hint="the source changed while it was read; start the object over",
        )


def _read_into(src: BinaryIO, view: memoryview) -> int:
    data = src.read(len(view))
    view[: len(data)] = data
    return len(data)
