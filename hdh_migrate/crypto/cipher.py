"""Per-object keys: one ``ObjectCipher`` encrypts or decrypts the segments of one object.

An ``ObjectCipher`` exists only after the key commitment matched (``open_object``) or was
just computed (``seal_header``), so every segment operation runs under a checked key.
Segment operations write into caller-supplied buffers (``encrypt_into``/``decrypt_into``)
and keep one ``AESGCM`` per epoch.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hdh_migrate.crypto import keyschedule as ks
from hdh_migrate.crypto.format import (
    DEK_LEN,
    SALT_LEN,
    TAG_LEN,
    WRAP_AES_KW,
    Header,
    encode_core,
    encode_envelope,
    log2_of,
    parse_header,
)
from hdh_migrate.errors import IntegrityAuthError


class KeyProvider(Protocol):
    """What HDH1 needs from a KEK (``hdh_migrate.keys`` providers satisfy it structurally):
    ``ref`` for the header, RFC 3394 ``wrap``, and ``unwrap`` raising IntegrityAuthError."""

    ref: str

    def wrap(self, dek: bytes) -> bytes: ...

    def unwrap(self, blob: bytes) -> bytes: ...


@dataclass(frozen=True)
class Envelope:
    """A wrapped DEK and the reference of the KEK that wraps it (header or sidecar)."""

    kek_ref: str
    wrapped_dek: bytes
    wrap_algorithm: int = WRAP_AES_KW


class ObjectCipher:
    """Segment encryption/decryption under the keys of one authenticated header."""

    def __init__(self, header: Header, prk: bytes) -> None:
        self.header = header
        self._prk = prk
        self._ctx = header.ctx
        self._count = header.segment_count
        self._epoch = -1
        self._aead: AESGCM | None = None

    def _aead_for(self, index: int) -> AESGCM:
        epoch = ks.epoch_of(index)
        if epoch != self._epoch or self._aead is None:
            self._aead = AESGCM(ks.payload_key(self._prk, self._ctx, epoch))
            self._epoch = epoch
        return self._aead

    def segment_plaintext_length(self, index: int) -> int:
        """Length of segment ``index``'s plaintext (the last one may be short or empty)."""
        if not 0 <= index < self._count:
            raise ValueError(f"segment {index} out of range 0…{self._count - 1}")
        size = self.header.segment_size
        return min(size, self.header.plaintext_length - index * size)

    def encrypt_into(self, index: int, plaintext: memoryview, out: memoryview) -> int:
        """Encrypt segment ``index`` into ``out`` (exactly len(plaintext) + 16 bytes)."""
        self._check_length(index, len(plaintext))
        nonce = ks.nonce(index, index == self._count - 1)
        return self._aead_for(index).encrypt_into(nonce, plaintext, self._ctx, out)

    def decrypt_into(self, index: int, segment: memoryview, out: memoryview) -> int:
        """Verify and decrypt segment ``index`` into ``out``. Raises IntegrityAuthError; on
        failure ``out`` is wiped so no unauthenticated plaintext survives."""
        self._check_length(index, len(segment) - TAG_LEN)
        nonce = ks.nonce(index, index == self._count - 1)
        try:
            return self._aead_for(index).decrypt_into(nonce, segment, self._ctx, out)
        except InvalidTag:
            out[:] = bytes(len(out))
            raise IntegrityAuthError(
                f"HDH1 object {self.header.object_id!r}: segment {index} failed authentication",
                hint="the object was modified, truncated or reordered; restore it from source",
            ) from None

    def _check_length(self, index: int, length: int) -> None:
        if length != self.segment_plaintext_length(index):
            raise IntegrityAuthError(
                f"HDH1 object {self.header.object_id!r}: segment {index} has the wrong length"
            )


def seal_header(
    provider: KeyProvider,
    object_id: str,
    plaintext_length: int,
    segment_size: int,
    *,
    dek: bytes | None = None,
    salt: bytes | None = None,
) -> ObjectCipher:
    """Create a fresh header (new random DEK and salt unless given, for test vectors only)
    and return the cipher that encrypts its segments."""
    dek = os.urandom(DEK_LEN) if dek is None else dek
    salt = os.urandom(SALT_LEN) if salt is None else salt
    if len(dek) != DEK_LEN:
        raise ValueError("the data key must be 32 bytes")
    wrapped = provider.wrap(dek)
    core = encode_core(
        log2_of(segment_size), plaintext_length, salt, object_id, provider.ref, len(wrapped)
    )
    prk = ks.extract(salt, dek)
    commit = ks.commitment(prk, hashlib.sha256(core).digest())
    header = parse_header(core + commit + encode_envelope(WRAP_AES_KW, wrapped))
    return ObjectCipher(header, prk)


def open_object(
    header: Header,
    provider: KeyProvider,
    expected_object_id: str | None,
    envelope: Envelope | None = None,
) -> ObjectCipher:
    """Check the object id, unwrap the DEK (from ``envelope`` if given, e.g. a rewrapped
    sidecar, else from the header) and verify the key commitment in constant time, before
    any segment is touched. Raises IntegrityAuthError on any mismatch."""
    if expected_object_id is not None and header.object_id != expected_object_id:
        raise IntegrityAuthError(
            f"HDH1 header names object {header.object_id!r}, expected {expected_object_id!r}",
            hint="the header belongs to another object (swapped or misplaced)",
        )
    env = envelope or Envelope(header.kek_ref, header.wrapped_dek, header.wrap_algorithm)
    dek = _unwrap(provider, env)
    prk = ks.extract(header.salt, dek)
    if not hmac.compare_digest(ks.commitment(prk, header.ctx), header.commitment):
        raise IntegrityAuthError(
            f"HDH1 object {header.object_id!r}: key commitment mismatch",
            hint="wrong key, forged envelope or modified header",
        )
    return ObjectCipher(header, prk)


def _unwrap(provider: KeyProvider, env: Envelope) -> bytes:
    if env.wrap_algorithm != WRAP_AES_KW:
        raise IntegrityAuthError(f"unknown wrap algorithm {env.wrap_algorithm}")
    try:
        dek = provider.unwrap(env.wrapped_dek)
    except IntegrityAuthError as exc:
        if env.kek_ref != provider.ref:
            exc.hint = (
                f"the object was wrapped under {env.kek_ref}, the key given is {provider.ref}"
            )
        raise
    if len(dek) != DEK_LEN:
        raise IntegrityAuthError("the unwrapped data key is not 32 bytes")
    return dek
