"""Inclusion proofs: ``prove`` that one object record is in the tree of the last signed
checkpoint; ``verify_inclusion`` checks such a proof with the public key alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hdh_migrate.errors import VerificationError
from hdh_migrate.integrity import merkle
from hdh_migrate.integrity.canonical import CanonicalError, decode_canonical
from hdh_migrate.integrity.checkpoint import CheckpointError, parse_signed_checkpoint
from hdh_migrate.integrity.manifest_scan import (
    BadLine,
    leaf_hashes,
    must_exist,
    parse_line,
    read_lines,
)
from hdh_migrate.integrity.records import CHECKPOINT


@dataclass(frozen=True)
class InclusionProof:
    """Everything a third party needs to check that one record is in a signed tree."""

    object_id: str
    leaf_index: int
    tree_size: int
    root: str
    leaf_hash: str
    audit_path: tuple[str, ...]
    record: str
    checkpoint: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["audit_path"] = list(self.audit_path)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InclusionProof:
        return cls(**{**data, "audit_path": tuple(data["audit_path"])})


def prove(path: str | Path, object_id: str) -> InclusionProof:
    """An inclusion proof of the last ``object`` record for ``object_id``.

    The proof is against the last signed checkpoint. Raises VerificationError when the
    object is absent or not yet covered by a checkpoint.
    """
    path = Path(path)
    must_exist(path)
    index, line, note = _find_object(path, object_id)
    checkpoint = parse_signed_checkpoint(note).checkpoint
    if index >= checkpoint.size:
        raise VerificationError(
            f"object {object_id!r} is not yet covered by a signed checkpoint",
            hint="resume or close the run so the manifest is sealed",
        )
    audit = merkle.inclusion_proof(leaf_hashes(path), index, checkpoint.size)
    return InclusionProof(
        object_id=object_id,
        leaf_index=index,
        tree_size=checkpoint.size,
        root=checkpoint.root.hex(),
        leaf_hash=merkle.leaf_hash(line).hex(),
        audit_path=tuple(node.hex() for node in audit),
        record=line.decode("utf-8"),
        checkpoint=note,
    )


def _find_object(path: Path, object_id: str) -> tuple[int, bytes, str]:
    found: tuple[int, bytes] | None = None
    note: str | None = None
    leaves = 0
    with path.open("rb") as handle:
        try:
            for number, line in read_lines(handle):
                record = parse_line(number, line)
                if record["type"] == CHECKPOINT:
                    note = record["note"]
                    continue
                if record["type"] == "object" and record["object_id"] == object_id:
                    found = (leaves, line)
                leaves += 1
        except BadLine as bad:
            raise VerificationError(f"{path}: line {bad.line}: {bad.message}") from None
    if found is None or note is None:
        raise VerificationError(f"object {object_id!r} is not in manifest {path}")
    return found[0], found[1], note


def verify_inclusion(proof: InclusionProof, public_key: bytes) -> bool:
    """True when the checkpoint is signed by ``public_key`` and the path leads to its root."""
    try:
        signed = parse_signed_checkpoint(proof.checkpoint)
        record = decode_canonical(proof.record.encode("utf-8"))
        path = [bytes.fromhex(node) for node in proof.audit_path]
    except (CheckpointError, CanonicalError, ValueError):
        return False
    cp = signed.checkpoint
    leaf = merkle.leaf_hash(proof.record.encode("utf-8"))
    return (
        signed.verify(public_key)
        and isinstance(record, dict)
        and record.get("object_id") == proof.object_id
        and (cp.size, cp.root.hex(), leaf.hex()) == (proof.tree_size, proof.root, proof.leaf_hash)
        and merkle.verify_inclusion(leaf, proof.leaf_index, cp.size, path, cp.root)
    )
