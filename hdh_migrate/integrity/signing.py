"""Signers for manifest checkpoints: a small protocol, and an Ed25519 key-file signer.

A ``Signer`` holds private key material and exposes only ``sign``, its public key and a
``key_id`` label. An HSM signer (PKCS#11, key never leaves the token) implements the
same protocol; the manifest code never knows which one it has.

Public keys travel as raw 32-byte Ed25519 keys; ``fingerprint`` names one as
``sha256:<hex>`` (recorded in each ``run`` record). Public key files are PEM
SubjectPublicKeyInfo (what ``openssl pkey -pubout`` prints), or raw 32 bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from hdh_migrate.errors import AuthError, UsageError
from hdh_migrate.secrets import SecretRef

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


@runtime_checkable
class Signer(Protocol):
    """Signs checkpoint bytes with Ed25519. Implementations never expose the private key."""

    @property
    def key_id(self) -> str:
        """A short human label for the key (file name, HSM label); not secret."""
        ...

    def public_key_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        ...


class Ed25519FileSigner:
    """An Ed25519 private key read from a file readable only by its owner.

    The file holds a PEM PKCS#8 private key (unencrypted) or the raw 32-byte seed.
    Refuses (AuthError, exit 7) a file that group or others may read.
    """

    def __init__(self, private_key: Ed25519PrivateKey, key_id: str) -> None:
        self._key = private_key
        self._key_id = key_id

    @classmethod
    def from_file(cls, path: str | Path, key_id: str | None = None) -> Ed25519FileSigner:
        """Load the key at ``path``; AuthError when unreadable, too open or not Ed25519."""
        path = Path(path).expanduser()
        _check_private_file(path)
        return cls(_parse_private_key(path.read_bytes(), str(path)), key_id or path.name)

    @classmethod
    def from_reference(cls, ref: SecretRef, key_id: str | None = None) -> Ed25519FileSigner:
        """Load the key a plan names (``signing.private_key``): ``${file:…}`` goes through
        the permission check of ``from_file``; ``${env:…}`` must hold the PEM text."""
        if ref.scheme == "file":
            return cls.from_file(ref.name, key_id)
        return cls(_parse_private_key(ref.reveal_bytes(), str(ref)), key_id or ref.name)

    @classmethod
    def generate(cls, key_id: str = "generated") -> Ed25519FileSigner:
        """A fresh in-memory key (tests, and ``write_private_key`` to create a key file)."""
        return cls(Ed25519PrivateKey.generate(), key_id)

    @property
    def key_id(self) -> str:
        return self._key_id

    def public_key_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def write_private_key(self, path: str | Path) -> None:
        """Write the key as PEM PKCS#8 with mode 0600; refuses to overwrite a file."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)

    def __repr__(self) -> str:
        return f"Ed25519FileSigner(key_id={self._key_id!r})"


def _check_private_file(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AuthError(f"signing key {path}: no such file", hint="check the path") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthError(
            f"signing key {path} is accessible by group or others",
            hint=f"chmod 600 {path}",
        )


def _parse_private_key(data: bytes, path: str) -> Ed25519PrivateKey:
    if len(data) == PUBLIC_KEY_SIZE:
        return Ed25519PrivateKey.from_private_bytes(data)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuthError(
            f"signing key {path} is not an unencrypted Ed25519 key",
            hint="use a PEM PKCS#8 key (openssl genpkey -algorithm ed25519) or 32 raw bytes",
        )
    return key


def fingerprint(public_key: bytes) -> str:
    """``sha256:<hex>`` of the raw public key: how records and reports name a key."""
    return "sha256:" + hashlib.sha256(public_key).hexdigest()


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message``."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_pem(public_key: bytes) -> bytes:
    """The PEM SubjectPublicKeyInfo text of a raw Ed25519 public key."""
    return Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(path: str | Path) -> bytes:
    """The raw public key in a PEM or raw-32-byte file; UsageError when it is neither."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"public key {path}: {exc.strerror}", hint="check the path") from None
    return parse_public_key(data, str(path))


def parse_public_key(data: bytes, name: str = "public key") -> bytes:
    """The raw 32 bytes of an Ed25519 public key given as PEM or raw bytes."""
    if len(data) == PUBLIC_KEY_SIZE:
        return data
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{name} is not an Ed25519 public key", hint="pass the manifest.pub file")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def write_public_key(path: str | Path, public_key: bytes) -> None:
    """Write ``public_key`` as PEM to ``path`` (world-readable is fine: it is public)."""
    Path(path).write_bytes(public_key_pem(public_key))
