"""Signed checkpoints in the C2SP tlog-checkpoint / signed-note text format.

A checkpoint commits to a tree head::

    <origin>\\n
    <tree size, decimal>\\n
    <base64 of the 32-byte root hash>\\n

and a signed note appends a blank line and one signature line::

    — <key name> <base64(key hash[4] ‖ Ed25519 signature[64])>\\n

The signature covers the checkpoint body bytes exactly (trailing newline included).
The key name is the origin; the key hash is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4],
as in C2SP signed-note for Ed25519 keys. Anyone with the public key can verify a
checkpoint with standard tools (Go's ``golang.org/x/mod/sumdb/note``, or ten lines of
Python, see docs/manifest.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from hdh_migrate.integrity.merkle import HASH_SIZE
from hdh_migrate.integrity.signing import SIGNATURE_SIZE, Signer, verify_signature

_ORIGIN = re.compile(r"^[\x21-\x2a\x2c-\x7e]+$")  # printable ASCII, no space, no '+'
_DASH = "\u2014"
ED25519_ALGORITHM = 0x01


class CheckpointError(ValueError):
    """A checkpoint or signed note is malformed."""


def check_origin(origin: str) -> str:
    """Return ``origin`` when usable as a checkpoint origin and key name; else raise."""
    if not _ORIGIN.match(origin):
        raise CheckpointError(
            f"origin {origin!r} must be printable ASCII without spaces or '+' "
            "(for example hdh-migrate/<plan name>)"
        )
    return origin


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP signed-note key hash of an Ed25519 key named ``name``."""
    material = name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key
    return hashlib.sha256(material).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> bytes:
        """The exact bytes that are signed."""
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\n".encode()


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint plus one Ed25519 signature line."""

    checkpoint: Checkpoint
    key_name: str
    key_hash: bytes
    signature: bytes

    def text(self) -> str:
        """The signed note as text (body, blank line, signature line)."""
        blob = base64.b64encode(self.key_hash + self.signature).decode()
        return self.checkpoint.body().decode() + f"\n{_DASH} {self.key_name} {blob}\n"

    def verify(self, public_key: bytes) -> bool:
        """True when the signature line was made by ``public_key`` over this checkpoint."""
        if self.key_hash != key_hash(self.key_name, public_key):
            return False
        return verify_signature(public_key, self.checkpoint.body(), self.signature)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> SignedCheckpoint:
    """Sign ``checkpoint`` with ``signer``; the key name is the checkpoint's origin."""
    name = check_origin(checkpoint.origin)
    hashed = key_hash(name, signer.public_key_bytes())
    return SignedCheckpoint(checkpoint, name, hashed, signer.sign(checkpoint.body()))


def parse_signed_checkpoint(text: str) -> SignedCheckpoint:
    """Parse a signed note produced by ``SignedCheckpoint.text``; CheckpointError if not."""
    body, sep, signatures = text.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise CheckpointError("a signed checkpoint needs a body, a blank line and a signature")
    checkpoint = _parse_body(body + "\n")
    lines = signatures[:-1].split("\n")
    if len(lines) != 1:
        raise CheckpointError("expected exactly one signature line")
    return _parse_signature(checkpoint, lines[0])


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise CheckpointError("a checkpoint body has exactly three lines: origin, size, root")
    origin, size_text, root_text = lines[:3]
    check_origin(origin)
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"tree size {size_text!r} is not a decimal number")
    root = _b64(root_text, "root hash")
    if len(root) != HASH_SIZE:
        raise CheckpointError("the root hash must be 32 bytes")
    checkpoint = Checkpoint(origin, int(size_text), root)
    if checkpoint.body().decode() != body:
        raise CheckpointError("checkpoint body is not in canonical form")
    return checkpoint


def _parse_signature(checkpoint: Checkpoint, line: str) -> SignedCheckpoint:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != _DASH:
        raise CheckpointError("a signature line reads '— <key name> <base64>'")
    blob = _b64(parts[2], "signature")
    if len(blob) != 4 + SIGNATURE_SIZE:
        raise CheckpointError("an Ed25519 signature line carries 4 + 64 bytes")
    return SignedCheckpoint(checkpoint, parts[1], blob[:4], blob[4:])


def _b64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what} is not valid base64") from None
    if base64.b64encode(data).decode() != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return data
