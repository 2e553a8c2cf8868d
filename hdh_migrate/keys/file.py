"""The ``file`` key provider: a 32-byte AES-256 KEK in a local file readable by its owner only.

Accepted file contents: exactly 32 raw bytes (what ``generate_key_file`` writes), or 64
hexadecimal characters optionally followed by one newline. Any other size is refused.
The reference is ``file:kcv=<12 hex>``: the first 6 bytes of AES-256-ECB(KEK, 0^16), the
usual key check value (its first 3 bytes equal PKCS#11 ``CKA_CHECK_VALUE`` for the same key).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from hdh_migrate.errors import AuthError, IntegrityAuthError, UsageError

KEY_LEN = 32


def key_check_value(key: bytes) -> str:
    """First 6 bytes of AES-ECB(key, 16 zero bytes), as 12 lowercase hex digits."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - KCV only
    return (encryptor.update(bytes(16)) + encryptor.finalize())[:6].hex()


def read_key_file(path: Path) -> bytes:
    """Read a KEK file, refusing group/other access and any content but 32 bytes or 64 hex."""
    try:
        info = path.stat()
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuthError(f"key file {path} does not exist", hint="check --key-file") from None
    except (PermissionError, IsADirectoryError):
        raise AuthError(f"key file {path} cannot be read", hint="check its owner") from None
    if info.st_mode & 0o077:
        raise AuthError(
            f"key file {path} is accessible by group or others (mode {info.st_mode & 0o777:o})",
            hint=f"chmod 600 {path}",
        )
    return _decode_key(path, data)


def _decode_key(path: Path, data: bytes) -> bytes:
    if len(data) == KEY_LEN:
        return data
    text = data[:-1] if data.endswith(b"\n") else data
    if len(text) == 2 * KEY_LEN:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise AuthError(
        f"key file {path} holds {len(data)} bytes, not a 32-byte AES-256 key",
        hint="expected 32 raw bytes or 64 hex digits; create one with `hdh-migrate keys generate`",
    )


def generate_key_file(path: Path) -> str:
    """Write a fresh random 32-byte KEK to ``path`` (mode 0600, refuses to overwrite).
    Returns the key's reference."""
    key = os.urandom(KEY_LEN)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} already exists", hint="choose a new path") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), stat.S_IRUSR | stat.S_IWUSR)
        handle.write(key)
    return f"file:kcv={key_check_value(key)}"


class FileKeyProvider:
    """RFC 3394 AES key wrap under a KEK read from a local file (read once, at open)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._key = read_key_file(self.path)
        self.ref = f"file:kcv={key_check_value(self._key)}"

    @classmethod
    def from_bytes(cls, key: bytes, label: str = "<memory>") -> FileKeyProvider:
        """A provider over key bytes already in memory (tests, vectors)."""
        if len(key) != KEY_LEN:
            raise UsageError("a KEK must be 32 bytes")
        self = cls.__new__(cls)
        self.path, self._key = Path(label), key
        self.ref = f"file:kcv={key_check_value(key)}"
        return self

    def __repr__(self) -> str:
        return f"FileKeyProvider({self.ref})"

    def wrap(self, dek: bytes) -> bytes:
        return aes_key_wrap(self._key, dek)

    def unwrap(self, blob: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._key, blob)
        except (InvalidUnwrap, ValueError):
            raise IntegrityAuthError(
                f"the data key does not unwrap under {self.ref}",
                hint="wrong key file, or the envelope was modified",
            ) from None

    def describe(self) -> dict[str, Any]:
        return {"provider": "file", "reference": self.ref, "path": str(self.path)}

    def close(self) -> None:
        """Nothing to release (the key stays in memory for the provider's lifetime)."""
