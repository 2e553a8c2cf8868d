"""Credential files: random values written once with mode 0600, reused until purge."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def token(path: Path, nbytes: int = 20, alphabet: str = "") -> str:
    """The secret stored at ``path``; generated (hex or from ``alphabet``) when missing."""
    if path.exists():
        return path.read_text().strip()
    if alphabet:
        value = "".join(secrets.choice(alphabet) for _ in range(nbytes))
    else:
        value = secrets.token_hex(nbytes)
    write_private(path, value.encode())
    return value


def read(path: Path) -> str:
    """The secret stored at ``path`` (stripped)."""
    return path.read_text().strip()


def ed25519_keypair(private_path: Path) -> str:
    """Ensure an OpenSSH ed25519 private key at ``private_path``; return the public line."""
    if private_path.exists():
        key = serialization.load_ssh_private_key(private_path.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
    else:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        write_private(private_path, pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()
