"""Integrity: canonical records, RFC 6962 Merkle trees, signed checkpoints, the manifest.

Pure and server-free: these modules transform bytes and files; they never see a backend.
"""

from hdh_migrate.integrity.checkpoint import Checkpoint, SignedCheckpoint
from hdh_migrate.integrity.manifest import (
    InclusionProof,
    ManifestWriter,
    RecordRefused,
    VerifyReport,
    prove,
    public_key_path,
    verify_inclusion,
    verify_manifest,
)
from hdh_migrate.integrity.signing import Ed25519FileSigner, Signer, fingerprint

__all__ = [
    "Checkpoint",
    "Ed25519FileSigner",
    "InclusionProof",
    "ManifestWriter",
    "RecordRefused",
    "SignedCheckpoint",
    "Signer",
    "VerifyReport",
    "fingerprint",
    "prove",
    "public_key_path",
    "verify_inclusion",
    "verify_manifest",
]
