"""One streaming pass over a manifest: rehash the leaves, check the ``prev`` links, the
signatures and roots of checkpoints, and the consistency between consecutive ones.

O(log n) memory plus one mark per checkpoint. A problem raises ``BadLine`` naming the
1-based line; ``verify_manifest``, ``prove`` and ``ManifestWriter`` (resume) turn it
into their own outcome.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from hdh_migrate.errors import UsageError
from hdh_migrate.integrity import merkle
from hdh_migrate.integrity.canonical import CanonicalError, decode_canonical
from hdh_migrate.integrity.checkpoint import (
    CheckpointError,
    SignedCheckpoint,
    parse_signed_checkpoint,
)
from hdh_migrate.integrity.records import CHECKPOINT, RecordRefused, check_record
from hdh_migrate.integrity.signing import fingerprint


class BadLine(Exception):
    """A problem found on one (1-based) line of a manifest."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


@dataclass
class Mark:
    line: int
    size: int
    root: bytes


@dataclass
class Scan:
    """What one streaming pass over a manifest learned (O(log n) + one mark per checkpoint)."""

    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    origin: str | None = None
    lines: int = 0
    marks: list[Mark] = field(default_factory=list)
    last_note: str | None = None
    first_unsigned_line: int | None = None
    anchor_seen: bool = False
    last_leaf: bytes | None = None
    last_leaf_line: int = 0
    broken_link: tuple[int, int] | None = None


def read_lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(handle, 1):
        if not raw.endswith(b"\n"):
            raise BadLine(number, "truncated line (no newline): the file was cut short")
        yield number, raw[:-1]


def parse_line(number: int, line: bytes) -> dict[str, Any]:
    try:
        record = decode_canonical(line)
    except CanonicalError as exc:
        raise BadLine(number, f"not a canonical record: {exc}") from None
    if not isinstance(record, dict):
        raise BadLine(number, "a record must be a JSON object")
    try:
        check_record(record)
    except RecordRefused as exc:
        raise BadLine(number, str(exc)) from None
    return record


def scan(
    path: Path,
    public_key: bytes,
    anchor: SignedCheckpoint | None = None,
    state: Scan | None = None,
) -> Scan:
    """Stream every line: rehash leaves, check links, signatures and roots; raise BadLine.

    A broken ``prev`` link is resolved one leaf later to name the altered line; any other
    problem found meanwhile (a checkpoint no longer matching) is reported as that line.
    """
    state = state if state is not None else Scan()
    try:
        with path.open("rb") as handle:
            for number, line in read_lines(handle):
                state.lines = number
                _step(state, number, line, parse_line(number, line), public_key)
                _check_anchor(state, number, anchor)
    except BadLine:
        _raise_pending(state)
        raise
    _raise_pending(state)
    return state


def _raise_pending(state: Scan) -> None:
    _raise_broken_link(state, None)


def _step(state: Scan, number: int, line: bytes, record: dict[str, Any], key: bytes) -> None:
    if record["type"] == CHECKPOINT:
        _check_checkpoint(state, number, record, key)
        return
    if state.tree.size == 0 and record["type"] != "run":
        raise BadLine(number, "the first record must be a 'run' record")
    _check_link(state, number, record.get("prev"))
    if record["type"] == "run":
        _check_run_key(number, record, key)
    state.last_leaf, state.last_leaf_line = merkle.leaf_hash(line), number
    state.tree.append(state.last_leaf)
    if state.first_unsigned_line is None:
        state.first_unsigned_line = number


def _check_link(state: Scan, number: int, prev: Any) -> None:
    expected = state.last_leaf.hex() if state.last_leaf is not None else None
    if state.broken_link is not None:
        _raise_broken_link(state, prev == expected)
    if prev != expected:
        state.broken_link = (state.last_leaf_line or number, number)


def _raise_broken_link(state: Scan, next_link_ok: bool | None) -> None:
    """Name the altered line once the link after the first broken one is known."""
    if state.broken_link is None:
        return
    (before, after), state.broken_link = state.broken_link, None
    if next_link_ok is False:
        raise BadLine(after, "record altered, inserted or out of order (both of its links broken)")
    raise BadLine(
        before,
        f"record altered, or a record after it removed (line {after} links to another record)",
    )


def _check_run_key(number: int, record: Mapping[str, Any], key: bytes) -> None:
    signer = record.get("signer")
    named = signer.get("fingerprint") if isinstance(signer, Mapping) else None
    if named != fingerprint(key):
        raise BadLine(
            number,
            f"run record names signing key {named}, but the public key given is "
            f"{fingerprint(key)} (wrong public key, or the manifest was re-signed)",
        )


def _check_checkpoint(state: Scan, number: int, record: Mapping[str, Any], key: bytes) -> None:
    signed = _parse_note(number, record["note"])
    linked = record.get("prev") == (state.last_leaf.hex() if state.last_leaf else None)
    _raise_broken_link(state, linked)
    cp = signed.checkpoint
    matches = (cp.size, cp.root) == (state.tree.size, state.tree.root())
    if not linked and state.last_leaf_line and not (matches and signed.verify(key)):
        raise BadLine(
            state.last_leaf_line,
            f"record altered, or a record after it removed (the checkpoint on line {number} "
            "no longer matches it)",
        )
    if not linked:
        raise BadLine(number, "checkpoint record altered (its link to the last record is broken)")
    if state.origin is not None and cp.origin != state.origin:
        raise BadLine(number, f"checkpoint origin {cp.origin!r} differs from {state.origin!r}")
    if not matches:
        raise BadLine(number, _mismatch(state, cp.size))
    if not signed.verify(key):
        raise BadLine(number, "checkpoint signature is invalid for this public key")
    state.origin = cp.origin
    state.marks.append(Mark(number, cp.size, cp.root))
    state.last_note, state.first_unsigned_line = record["note"], None


def _parse_note(number: int, note: str) -> SignedCheckpoint:
    try:
        return parse_signed_checkpoint(note)
    except CheckpointError as exc:
        raise BadLine(number, f"malformed checkpoint: {exc}") from None


def _mismatch(state: Scan, size: int) -> str:
    since = state.marks[-1].line + 1 if state.marks else 1
    if size != state.tree.size:
        return f"checkpoint covers {size} records but {state.tree.size} precede it"
    return f"checkpoint root does not match the records on lines {since}-{state.lines - 1}"


def _check_anchor(state: Scan, number: int, anchor: SignedCheckpoint | None) -> None:
    if anchor is not None and state.tree.size == anchor.checkpoint.size:
        if state.tree.root() != anchor.checkpoint.root:
            raise BadLine(number, "the records differ from the checkpoint kept elsewhere")
        state.anchor_seen = True


def leaf_hashes(path: Path) -> Iterator[bytes]:
    """The leaf hashes of a manifest, streamed (checkpoint lines skipped)."""
    with path.open("rb") as handle:
        for _, line in read_lines(handle):
            if _type_of(line) != CHECKPOINT:
                yield merkle.leaf_hash(line)


def _type_of(line: bytes) -> Any:
    """The record type of a line already validated by a first pass (fast path)."""
    record = json.loads(line)
    return record.get("type") if isinstance(record, dict) else None


def check_consistency(path: Path, marks: list[Mark]) -> int:
    """Verify the consistency proof between each pair of consecutive checkpoints."""
    pairs = [(a, b) for a, b in itertools.pairwise(marks) if 0 < a.size < b.size]
    per_pair = [merkle.consistency_ranges(a.size, b.size) for a, b in pairs]
    flat = [r for ranges in per_pair for r in ranges]
    hashes = iter(merkle.range_hashes(leaf_hashes(path), flat)) if flat else iter(())
    for (a, b), ranges in zip(pairs, per_pair, strict=True):
        proof = [next(hashes) for _ in ranges]
        if not merkle.verify_consistency(a.size, b.size, a.root, b.root, proof):
            raise BadLine(b.line, f"checkpoint is not consistent with the one on line {a.line}")
    return len(pairs)


def must_exist(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"manifest {path}: no such file", hint="check the path")
