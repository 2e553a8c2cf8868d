"""The signed manifest: canonical JSON Lines, an RFC 6962 Merkle tree, signed checkpoints.

One file, one record per line (see docs/manifest.md for every field):

- evidence records — ``run``, ``object``, ``rewrap``, ``cutover``, ``rollback`` — are the
  leaves of the Merkle tree, in file order: leaf = SHA-256(0x00 ‖ line without ``\\n``);
- each leaf after the first carries ``prev``, the hex leaf hash of the leaf before it: a
  link that lets ``verify`` name the altered line (security rests on the signatures);
- ``checkpoint`` records carry a signed C2SP checkpoint (origin, tree size, root) of the
  leaves before them; they are not leaves themselves.

``ManifestWriter`` appends with O(log n) state and signs every ``checkpoint_every``
records and on close; re-opening an existing file verifies it and continues the same
tree, so checkpoints of resumed runs stay consistent. ``verify_manifest`` re-hashes
every line (streamed), checks every signature and the consistency proof between
consecutive checkpoints. ``prove`` builds an inclusion proof for one object.

The manifest never holds secrets: records are refused when a field is named like a
secret (``secret``, ``password``, ``pin``, ``token``, ``credential``, ``private`` …),
when a value is a ``SecretRef``, or when a string holds a PEM private key.

Modules: this one writes (``ManifestWriter``); ``records`` checks and encodes records,
``manifest_scan`` reads a manifest back in one streaming pass, ``manifest_verify`` and
``proofs`` build on it. Their public names are re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from hdh_migrate import private_files
from hdh_migrate.errors import AuthError, UsageError, VerificationError
from hdh_migrate.integrity import merkle
from hdh_migrate.integrity.canonical import encode_canonical
from hdh_migrate.integrity.checkpoint import (
    Checkpoint,
    SignedCheckpoint,
    check_origin,
    sign_checkpoint,
)
from hdh_migrate.integrity.manifest_scan import BadLine, check_consistency, scan
from hdh_migrate.integrity.manifest_verify import VerifyReport, verify_manifest
from hdh_migrate.integrity.proofs import InclusionProof, prove, verify_inclusion
from hdh_migrate.integrity.records import (
    CHECKPOINT,
    LEAF_TYPES,
    RECORD_FIELDS,
    SCHEMA_VERSION,
    RecordRefused,
    check_record,
    encode_record,
)
from hdh_migrate.integrity.signing import (
    Signer,
    fingerprint,
    load_public_key,
    write_public_key,
)

__all__ = [
    "CHECKPOINT",
    "LEAF_TYPES",
    "RECORD_FIELDS",
    "SCHEMA_VERSION",
    "InclusionProof",
    "ManifestWriter",
    "RecordRefused",
    "VerifyReport",
    "check_record",
    "encode_record",
    "prove",
    "public_key_path",
    "verify_inclusion",
    "verify_manifest",
]


def signer_custody(signer: Signer) -> dict[str, Any] | None:
    """What a signer says about where its key lives (an HSM signer's ``custody()``)."""
    custody = getattr(signer, "custody", None)
    return dict(custody()) if callable(custody) else None


def public_key_path(manifest: str | Path) -> Path:
    """Where the public key is stored alongside a manifest: ``<name>.pub``."""
    return Path(manifest).with_suffix(".pub")


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ManifestWriter:
    """Appends records to a manifest and signs checkpoints. Not thread-safe.

    Opening an existing file verifies it with the signer's public key (VerificationError,
    exit 4, when it was altered), drops a torn last line left by a crash (see
    ``dropped_bytes``), and continues the same tree. The public key is written next to
    the manifest (``<name>.pub``); an existing one must match the signer (AuthError).
    Durability: each append is flushed; checkpoints and ``close`` fsync.
    """

    def __init__(
        self,
        path: str | Path,
        signer: Signer,
        origin: str,
        checkpoint_every: int = 1000,
        clock: Callable[[], str] = _utc_now,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.path = Path(path)
        self._signer, self._origin = signer, check_origin(origin)
        self._every, self._clock = checkpoint_every, clock
        self._key = signer.public_key_bytes()
        self._custody = signer_custody(signer)
        self._claim_public_key()
        self.dropped_bytes = _drop_torn_tail(self.path)
        self._tree, self._signed_size, self._last_leaf = self._restore()
        self._handle: BinaryIO | None = private_files.create(self.path).open("ab")
        _fsync_dir(self.path.parent)

    def _claim_public_key(self) -> None:
        pub = public_key_path(self.path)
        if not pub.exists():
            write_public_key(pub, self._key)
        elif load_public_key(pub) != self._key:
            raise AuthError(
                f"{pub} holds another public key than the signing key {self._signer.key_id}",
                hint="sign with the key this manifest was started with, or use a new manifest",
            )

    def _restore(self) -> tuple[merkle.CompactRange, int, bytes | None]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return merkle.CompactRange(), 0, None
        try:
            state = scan(self.path, self._key)
            check_consistency(self.path, state.marks)
        except BadLine as bad:
            raise VerificationError(
                f"cannot resume manifest {self.path}: line {bad.line}: {bad.message}",
                hint="keep the file as evidence and start a new manifest",
            ) from None
        if state.origin not in (None, self._origin):
            raise UsageError(
                f"manifest {self.path} has origin {state.origin!r}, not {self._origin!r}"
            )
        signed = state.marks[-1].size if state.marks else 0
        return state.tree, signed, state.last_leaf

    @property
    def size(self) -> int:
        """Records (leaves) in the tree so far."""
        return self._tree.size

    def root(self) -> bytes:
        return self._tree.root()

    @property
    def public_key(self) -> bytes:
        """The signer's raw public key."""
        return self._key

    def signed_heads(self) -> list[tuple[int, str]]:
        """(tree size, hex root) of every signed checkpoint in the file, in order."""
        return [(m.size, m.root.hex()) for m in scan(self.path, self._key).marks]

    def append(self, record: Mapping[str, Any]) -> int:
        """Check, encode and append one evidence record; return its leaf index.

        ``v`` and ``ts`` are filled in when absent; ``run`` records get a ``signer``
        field (key id and fingerprint). RecordRefused for a bad or secret-bearing record.
        """
        full = self._complete(record)
        if full["type"] == CHECKPOINT:
            raise RecordRefused("checkpoint records are written by checkpoint(), not append()")
        if self._tree.size == 0 and full["type"] != "run":
            raise RecordRefused("the first record of a manifest must be a 'run' record")
        line = encode_record(full)
        self._write(line)
        self._last_leaf = merkle.leaf_hash(line)
        index = self._tree.append(self._last_leaf)
        if self._tree.size - self._signed_size >= self._every:
            self.checkpoint()
        return index

    def _complete(self, record: Mapping[str, Any]) -> dict[str, Any]:
        full = {"v": SCHEMA_VERSION, "ts": self._clock(), **record}
        full.pop("prev", None)
        if self._last_leaf is not None:
            full["prev"] = self._last_leaf.hex()
        if full.get("type") == "run":
            signer = {"key_id": self._signer.key_id, "fingerprint": fingerprint(self._key)}
            full["signer"] = signer | ({"custody": self._custody} if self._custody else {})
        return full

    def checkpoint(self) -> SignedCheckpoint | None:
        """Sign the current tree and append it (fsync). None when nothing new to sign."""
        if self._tree.size == self._signed_size:
            return None
        tree_head = Checkpoint(self._origin, self._tree.size, self._tree.root())
        signed = sign_checkpoint(tree_head, self._signer)
        record = {"note": signed.text(), "type": CHECKPOINT, "v": SCHEMA_VERSION}
        if self._last_leaf is not None:
            record["prev"] = self._last_leaf.hex()
        self._write(encode_canonical(record))
        self._sync()
        self._signed_size = self._tree.size
        return signed

    def close(self) -> None:
        """Sign what is unsigned, fsync and close. Idempotent."""
        if self._handle is None:
            return
        self.checkpoint()
        self._sync()
        self._handle.close()
        self._handle = None

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, line: bytes) -> None:
        if self._handle is None:
            raise ValueError("the manifest writer is closed")
        self._handle.write(line + b"\n")
        self._handle.flush()

    def _sync(self) -> None:
        if self._handle is not None:
            os.fsync(self._handle.fileno())


def _drop_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline (a crash mid-write); return the bytes dropped."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    with path.open("rb+") as handle:
        keep = _last_newline_end(handle, size)
        if keep < size:
            handle.truncate(keep)
            os.fsync(handle.fileno())
    return size - keep


def _last_newline_end(handle: BinaryIO, size: int) -> int:
    position = size
    while position > 0:
        step = min(65536, position)
        handle.seek(position - step)
        chunk = handle.read(step)
        found = chunk.rfind(b"\n")
        if found >= 0:
            return position - step + found + 1
        position -= step
    return 0


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
