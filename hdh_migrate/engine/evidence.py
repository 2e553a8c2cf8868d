"""Where a plan keeps its state, and the manifest signer it uses.

``<state_dir>/journal.sqlite`` (the journal), ``manifest.jsonl`` (+ ``.pub``), ``probe/``
(capability probe results) and, when the plan names no signing key, ``signing.key``: an
Ed25519 key generated on first use (mode 0600) so that every run is signed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hdh_migrate import private_files
from hdh_migrate.errors import AuthError
from hdh_migrate.integrity import Ed25519FileSigner, Signer, fingerprint
from hdh_migrate.plan import Plan
from hdh_migrate.plan.types import resolve_text
from hdh_migrate.secrets import SecretRef


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


@contextlib.contextmanager
def manifest_signing(plan: Plan, paths: StatePaths) -> Iterator[Signer]:
    """``manifest_signer``, closed after use: an HSM signer's PKCS#11 session is released
    (a process that runs plans many times, a rehearsal, a test suite, would keep one per
    run open otherwise)."""
    signer = manifest_signer(plan, paths)
    try:
        yield signer
    finally:
        close = getattr(signer, "close", None)  # file signers hold nothing to release
        if callable(close):
            close()


def manifest_signer(plan: Plan, paths: StatePaths) -> Signer:
    """The plan's signing key, or the state directory's own (created when missing)."""
    signing = plan.signing
    if signing is None:
        if not paths.signing_key.exists():
            _generate_signing_key(paths.signing_key)
        return Ed25519FileSigner.from_file(paths.signing_key, key_id=f"{plan.name}-state")
    signer: Signer
    if signing.kind == "pkcs11":
        signer = hsm_signer(
            resolve_text(signing.module),
            resolve_text(signing.token),
            resolve_text(signing.label),
            signing.pin,
            signing.slot,
            shown=(signing.module, f"pkcs11:token={signing.token};label={signing.label}"),
        )
    else:
        signer = Ed25519FileSigner.from_reference(signing.private_key)
    found = fingerprint(signer.public_key_bytes())
    if signing.fingerprint is not None and found != signing.fingerprint:
        raise AuthError(
            f"the signing key {signer.key_id} is {found}, not the pinned {signing.fingerprint}",
            hint="use the key the plan pins (signing.fingerprint), or update the pin",
        )
    return signer


def hsm_signer(
    module: str,
    token: str,
    label: str,
    pin: SecretRef | str,
    slot: int | None = None,
    shown: tuple[str, str] | None = None,
) -> Signer:
    """An Ed25519 signer whose private key stays in the HSM (PKCS#11, e.g. SoftHSM2); its
    custody attributes go into every run record. ``shown`` = (module, reference) as the
    plan writes them, recorded instead of values resolved from references. Needs the
    ``hsm`` extra."""
    from hdh_migrate.keys.pkcs11 import Pkcs11Ed25519Signer

    signer = Pkcs11Ed25519Signer(module, token, label, pin, slot)
    if shown is not None:
        signer.shown_module, signer.shown_ref = shown
    return signer


def _generate_signing_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def create_hsm_signing_key(
    module: str, token: str, label: str, pin: SecretRef | str, *, exist_ok: bool = False
) -> bytes:
    """Create a non-extractable Ed25519 key pair in the HSM; its raw public key. With
    ``exist_ok``, an existing pair with that label is kept and its public key returned."""
    from hdh_migrate.keys.pkcs11 import generate_ed25519_signing_key

    return generate_ed25519_signing_key(module, token, label, pin, exist_ok=exist_ok)
