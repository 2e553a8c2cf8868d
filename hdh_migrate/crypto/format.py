"""The HDH1 header: layout, strict bounded parsing, and size arithmetic.

Object layout: ``header ‖ seg_0 ‖ … ‖ seg_{n-1}``, each ``seg_i = ciphertext_i ‖ tag(16)``.
Header fields (big-endian), see docs/hdh1-format.md::

    magic "HDH1" | version 0x01 | algorithm 0x01 | log2 segment size u8 | flags u8 (0)
    header length u32 | plaintext length u64 | salt 32
    object id u16 + UTF-8 | KEK reference u16 + UTF-8
    commitment 32 | envelope: wrap algorithm u8 | u16 length | wrapped DEK

``core`` is every byte before the commitment; ``ctx = SHA-256(core)`` binds them all.
Parsing never reads beyond ``MAX_HEADER_LEN`` and rejects anything not exactly as written
by ``Header.encode``: a header that does not parse is an ``IntegrityAuthError``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from hdh_migrate.errors import IntegrityAuthError, UsageError

MAGIC = b"HDH1"
VERSION = 0x01
ALGORITHM = 0x01  # AES-256-GCM, HKDF-SHA256, STREAM
WRAP_AES_KW = 0x01  # RFC 3394 AES key wrap (unpadded), 32-byte DEK -> 40 bytes
TAG_LEN = 16
SALT_LEN = 32
COMMIT_LEN = 32
DEK_LEN = 32
MAX_HEADER_LEN = 4096
MAX_OBJECT_ID_LEN = 1024
MAX_KEK_REF_LEN = 512
MAX_WRAPPED_LEN = 512
MIN_LOG2_SEGMENT = 6
MAX_LOG2_SEGMENT = 24
DEFAULT_LOG2_SEGMENT = 20
DEFAULT_SEGMENT_SIZE = 1 << DEFAULT_LOG2_SEGMENT
MAX_PLAINTEXT_LEN = (1 << 64) - 1

_FIXED = struct.Struct(">4sBBBBIQ")  # magic, version, algorithm, log2, flags, hlen, ptlen
PREFIX_LEN = _FIXED.size  # 20: enough to learn the header length
MIN_HEADER_LEN = PREFIX_LEN + SALT_LEN + 3 + 3 + COMMIT_LEN + 4  # 1-byte fields: 94


@dataclass(frozen=True)
class Header:
    """A parsed HDH1 header. ``raw`` is the exact encoding; ``ctx`` = SHA-256(core)."""

    log2_segment: int
    plaintext_length: int
    salt: bytes
    object_id: str
    kek_ref: str
    commitment: bytes
    wrap_algorithm: int
    wrapped_dek: bytes
    raw: bytes = field(repr=False)

    @property
    def header_length(self) -> int:
        return len(self.raw)

    @property
    def segment_size(self) -> int:
        return 1 << self.log2_segment

    @property
    def segment_count(self) -> int:
        return segment_count(self.plaintext_length, self.segment_size)

    @property
    def core(self) -> bytes:
        """Every header byte before the commitment."""
        return self.raw[: self._core_length()]

    @property
    def ctx(self) -> bytes:
        return hashlib.sha256(self.core).digest()

    @property
    def ciphertext_length(self) -> int:
        return ciphertext_length(self.plaintext_length, self.segment_size, self.header_length)

    def _core_length(self) -> int:
        return len(self.raw) - COMMIT_LEN - 3 - len(self.wrapped_dek)


def segment_count(plaintext_length: int, segment_size: int) -> int:
    """n = max(1, ceil(plaintext_length / segment_size)): an empty object has one segment."""
    return max(1, -(-plaintext_length // segment_size))


def ciphertext_length(plaintext_length: int, segment_size: int, header_length: int) -> int:
    """Total object size: header + plaintext + 16 bytes of tag per segment."""
    return (
        header_length + plaintext_length + TAG_LEN * segment_count(plaintext_length, segment_size)
    )


def log2_of(segment_size: int) -> int:
    """The exponent of a power-of-two segment size within the allowed range, else UsageError."""
    log2 = segment_size.bit_length() - 1
    if segment_size <= 0 or (1 << log2) != segment_size:
        raise UsageError(f"segment size {segment_size} is not a power of two")
    if not MIN_LOG2_SEGMENT <= log2 <= MAX_LOG2_SEGMENT:
        raise UsageError(
            f"segment size {segment_size} out of range",
            hint=f"use 2^{MIN_LOG2_SEGMENT} … 2^{MAX_LOG2_SEGMENT} bytes (default 1 MiB)",
        )
    return log2


def encode_core(
    log2_segment: int,
    plaintext_length: int,
    salt: bytes,
    object_id: str,
    kek_ref: str,
    wrapped_len: int,
) -> bytes:
    """The header bytes before the commitment, for a header whose envelope is ``wrapped_len``."""
    oid, ref = object_id.encode("utf-8"), kek_ref.encode("utf-8")
    _check_field("object id", oid, MAX_OBJECT_ID_LEN, UsageError)
    _check_field("KEK reference", ref, MAX_KEK_REF_LEN, UsageError)
    if len(salt) != SALT_LEN or not 0 <= plaintext_length <= MAX_PLAINTEXT_LEN:
        raise UsageError("salt must be 32 bytes and the plaintext length a u64")
    variable = struct.pack(">H", len(oid)) + oid + struct.pack(">H", len(ref)) + ref
    total = PREFIX_LEN + SALT_LEN + len(variable) + COMMIT_LEN + 3 + wrapped_len
    if total > MAX_HEADER_LEN:
        raise UsageError(f"header would be {total} bytes (max {MAX_HEADER_LEN})")
    fixed = _FIXED.pack(MAGIC, VERSION, ALGORITHM, log2_segment, 0, total, plaintext_length)
    return fixed + salt + variable


def encode_envelope(wrap_algorithm: int, wrapped_dek: bytes) -> bytes:
    """The envelope that ends the header: algorithm u8, u16 length, wrapped DEK."""
    if not 0 < len(wrapped_dek) <= MAX_WRAPPED_LEN:
        raise UsageError(f"wrapped key of {len(wrapped_dek)} bytes is out of range")
    return struct.pack(">BH", wrap_algorithm, len(wrapped_dek)) + wrapped_dek


def header_length_from_prefix(prefix: bytes) -> int:
    """Validate the fixed 20-byte prefix and return the header length it announces."""
    if len(prefix) < PREFIX_LEN:
        raise IntegrityAuthError("not an HDH1 object: shorter than the header prefix")
    magic, version, algorithm, log2, flags, hlen, _ = _FIXED.unpack_from(prefix)
    if magic != MAGIC:
        raise IntegrityAuthError("not an HDH1 object: bad magic")
    if version != VERSION or algorithm != ALGORITHM:
        raise IntegrityAuthError(f"unsupported HDH1 version {version} / algorithm {algorithm}")
    if flags != 0 or not MIN_LOG2_SEGMENT <= log2 <= MAX_LOG2_SEGMENT:
        raise IntegrityAuthError("HDH1 header: reserved flags set or segment size out of range")
    if not MIN_HEADER_LEN <= hlen <= MAX_HEADER_LEN:
        raise IntegrityAuthError(f"HDH1 header: length {hlen} out of range")
    return int(hlen)


def parse_header(raw: bytes) -> Header:
    """Parse exactly one header (``raw`` must be the whole header, nothing more)."""
    hlen = header_length_from_prefix(raw[:PREFIX_LEN])
    if len(raw) != hlen:
        raise IntegrityAuthError(f"HDH1 header: expected {hlen} bytes, got {len(raw)}")
    _, _, _, log2, _, _, ptlen = _FIXED.unpack_from(raw)
    reader = _Cursor(raw, PREFIX_LEN)
    salt = reader.take(SALT_LEN)
    object_id = reader.text("object id", MAX_OBJECT_ID_LEN)
    kek_ref = reader.text("KEK reference", MAX_KEK_REF_LEN)
    commitment = reader.take(COMMIT_LEN)
    wrap_algorithm, wrapped = reader.take(1)[0], reader.counted(MAX_WRAPPED_LEN)
    if reader.pos != hlen:
        raise IntegrityAuthError("HDH1 header: trailing bytes inside the announced length")
    if wrap_algorithm != WRAP_AES_KW:
        raise IntegrityAuthError(f"HDH1 header: unknown wrap algorithm {wrap_algorithm}")
    return Header(log2, ptlen, salt, object_id, kek_ref, commitment, wrap_algorithm, wrapped, raw)


class _Cursor:
    """Bounded reads over the header bytes; any overrun is an authentication failure."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise IntegrityAuthError("HDH1 header: a field runs past the header length")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def counted(self, limit: int) -> bytes:
        (length,) = struct.unpack(">H", self.take(2))
        if length == 0 or length > limit:
            raise IntegrityAuthError(f"HDH1 header: field length {length} out of range")
        return self.take(length)

    def text(self, name: str, limit: int) -> str:
        data = self.counted(limit)
        _check_field(name, data, limit, IntegrityAuthError)
        return data.decode("utf-8")


def _check_field(name: str, data: bytes, limit: int, error: type[Exception]) -> None:
    """Non-empty, bounded, valid UTF-8 without NUL or control characters."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"HDH1 {name} is not valid UTF-8") from None
    if not 0 < len(data) <= limit or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise error(f"HDH1 {name} is empty, longer than {limit} bytes, or has control characters")
