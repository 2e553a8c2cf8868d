"""Sidecar envelopes: a data key rewrapped under a new KEK, stored next to the object.

Rotation never touches object bodies or headers (the header's KEK reference and length
are inside ``ctx``, so rewriting the header would change every key). Instead
``keys rotate`` unwraps each DEK with the old KEK, wraps it with the new one, and stores::

    magic "HDHK" | version 0x01 | wrap algorithm u8 | ctx of the object's header (32)
    | KEK reference u16 + UTF-8 | wrapped DEK u16 + bytes

``ctx`` binds the sidecar to one header (a misplaced sidecar is named as such); the
header's key commitment then proves the rewrapped DEK is the original one.
"""

from __future__ import annotations

import struct

from hdh_migrate.crypto.cipher import Envelope, KeyProvider
from hdh_migrate.crypto.format import (
    MAX_KEK_REF_LEN,
    MAX_WRAPPED_LEN,
    WRAP_AES_KW,
    Header,
)
from hdh_migrate.errors import IntegrityAuthError

SIDECAR_MAGIC = b"HDHK"
SIDECAR_VERSION = 0x01
MAX_SIDECAR_LEN = 6 + 32 + 2 + MAX_KEK_REF_LEN + 2 + MAX_WRAPPED_LEN


def rewrap(header: Header, current: Envelope, old: KeyProvider, new: KeyProvider) -> bytes:
    """The sidecar bytes holding ``header``'s DEK (opened with ``old`` from ``current``)
    wrapped under ``new``. Verifies the commitment first, so a wrong DEK is never rewrapped."""
    from hdh_migrate.crypto.cipher import open_object

    open_object(header, old, None, current)  # raises IntegrityAuthError on any mismatch
    return encode_sidecar(header, Envelope(new.ref, new.wrap(old.unwrap(current.wrapped_dek))))


def encode_sidecar(header: Header, envelope: Envelope) -> bytes:
    ref = envelope.kek_ref.encode("utf-8")
    if not 0 < len(ref) <= MAX_KEK_REF_LEN or not 0 < len(envelope.wrapped_dek) <= MAX_WRAPPED_LEN:
        raise ValueError("KEK reference or wrapped key out of range")
    return b"".join(
        (
            SIDECAR_MAGIC,
            bytes((SIDECAR_VERSION, envelope.wrap_algorithm)),
            header.ctx,
            struct.pack(">H", len(ref)) + ref,
            struct.pack(">H", len(envelope.wrapped_dek)) + envelope.wrapped_dek,
        )
    )


def parse_sidecar(raw: bytes, header: Header) -> Envelope:
    """The envelope in ``raw``, which must belong to ``header``. Raises IntegrityAuthError."""
    if len(raw) > MAX_SIDECAR_LEN or raw[:4] != SIDECAR_MAGIC or len(raw) < 42:
        raise IntegrityAuthError("not an HDH1 sidecar envelope")
    if raw[4] != SIDECAR_VERSION or raw[5] != WRAP_AES_KW:
        raise IntegrityAuthError(f"unsupported sidecar version {raw[4]} / wrap {raw[5]}")
    if raw[6:38] != header.ctx:
        raise IntegrityAuthError(
            f"the sidecar envelope belongs to another header than {header.object_id!r}"
        )
    ref, pos = _counted(raw, 38)
    wrapped, pos = _counted(raw, pos)
    if pos != len(raw):
        raise IntegrityAuthError("sidecar envelope: trailing bytes")
    try:
        kek_ref = ref.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityAuthError("sidecar envelope: KEK reference is not UTF-8") from None
    return Envelope(kek_ref, wrapped, raw[5])


def _counted(raw: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 2 > len(raw):
        raise IntegrityAuthError("sidecar envelope: truncated")
    (length,) = struct.unpack_from(">H", raw, pos)
    end = pos + 2 + length
    if length == 0 or end > len(raw):
        raise IntegrityAuthError("sidecar envelope: field out of range")
    return raw[pos + 2 : end], end
