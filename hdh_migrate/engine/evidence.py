"""Where a plan keeps its state, and the manifest signer it uses.

``<state_dir>/journal.sqlite`` (the journal), ``manifest.jsonl`` (+ ``.pub``), ``probe/``
(capability probe results) and, when the plan names no signing key, ``signing.key``: an
Ed25519 key generated on first use (mode 0600) so that every run is signed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hdh_migrate import private_files
from hdh_migrate.errors import UsageError
from hdh_migrate.integrity import Ed25519FileSigner, Signer
from hdh_migrate.plan import Plan


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def journal(self) -> Path:
        return self.root / "journal.sqlite"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.jsonl"

    @property
    def signing_key(self) -> Path:
        return self.root / "signing.key"

    @property
    def probe_dir(self) -> Path:
        return self.root / "probe"

    def ensure(self) -> StatePaths:
        """Create the directory, or tighten an existing one: 0700, its files 0600."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_files.tighten(self.root)
        return self


def state_paths(plan: Plan) -> StatePaths:
    return StatePaths(plan.state_path)


def manifest_signer(plan: Plan, paths: StatePaths) -> Signer:
    """The plan's signing key, or the state directory's own (created when missing)."""
    signing = plan.signing
    if signing is None:
        if not paths.signing_key.exists():
            _generate_signing_key(paths.signing_key)
        return Ed25519FileSigner.from_file(paths.signing_key, key_id=f"{plan.name}-state")
    if signing.kind != "file":
        raise UsageError(
            "manifest signing through PKCS#11 is not available in this build",
            hint="use signing: {kind: file, private_key: ${file:/path/to/ed25519.pem}}",
        )
    return Ed25519FileSigner.from_reference(signing.private_key)


def _generate_signing_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
