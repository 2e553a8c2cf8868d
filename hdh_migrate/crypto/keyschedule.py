"""The HDH1 key schedule (HKDF-SHA256, RFC 5869) and STREAM nonces.

::

    prk        = HKDF-Extract(salt, DEK)           ctx = SHA-256(core)
    commitment = HKDF-Expand(prk, "hdh/v1/commit"  ‖ ctx, 32)
    payload_e  = HKDF-Expand(prk, "hdh/v1/payload" ‖ ctx ‖ u32(e), 32)   e = i >> 18
    nonce_i    = u88_be(i) ‖ (0x01 if i == n-1 else 0x00)                aad = ctx
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

EPOCH_SHIFT = 18  # a fresh payload key every 2^18 segments (256 GiB at 1 MiB)
COMMIT_INFO = b"hdh/v1/commit"
PAYLOAD_INFO = b"hdh/v1/payload"
MAX_SEGMENTS = 1 << 88


def extract(salt: bytes, dek: bytes) -> bytes:
    """HKDF-Extract(salt, DEK) = HMAC-SHA256(salt, DEK)."""
    return hmac.new(salt, dek, hashlib.sha256).digest()


def expand(prk: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-Expand with SHA-256."""
    return HKDFExpand(algorithm=hashes.SHA256(), length=length, info=info).derive(prk)


def commitment(prk: bytes, ctx: bytes) -> bytes:
    """The 32-byte key commitment stored in the header."""
    return expand(prk, COMMIT_INFO + ctx)


def payload_key(prk: bytes, ctx: bytes, epoch: int) -> bytes:
    """The AES-256-GCM key for segments ``epoch << 18`` … ``((epoch + 1) << 18) - 1``."""
    return expand(prk, PAYLOAD_INFO + ctx + struct.pack(">I", epoch))


def epoch_of(index: int) -> int:
    return index >> EPOCH_SHIFT


def nonce(index: int, final: bool) -> bytes:
    """u88_be(index) ‖ final flag: 12 bytes."""
    if not 0 <= index < MAX_SEGMENTS:
        raise ValueError("segment index out of range")
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")
