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
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from hdh_migrate.errors import AuthError, UsageError, VerificationError
from hdh_migrate.integrity import merkle
from hdh_migrate.integrity.canonical import CanonicalError, decode_canonical, encode_canonical
from hdh_migrate.integrity.checkpoint import (
    Checkpoint,
    CheckpointError,
    SignedCheckpoint,
    check_origin,
    parse_signed_checkpoint,
    sign_checkpoint,
)
from hdh_migrate.integrity.signing import (
    Signer,
    fingerprint,
    load_public_key,
    write_public_key,
)
from hdh_migrate.secrets import SecretRef

SCHEMA_VERSION = 1
LEAF_TYPES = ("run", "object", "rewrap", "cutover", "rollback")
CHECKPOINT = "checkpoint"

_Spec = Mapping[str, Any]
_STR, _INT, _OPT_STR = (str,), (int,), (str, type(None))
RECORD_FIELDS: dict[str, _Spec] = {
    "run": {"run_id": _STR, "tool_version": _STR, "plan_digest": _STR, "ts": _STR},
    "object": {
        "dataset": _STR,
        "object_id": _STR,
        "source": {"uri": _STR, "etag": _STR, "size": _INT},
        "target": {
            "bucket": _STR,
            "key": _STR,
            "version": _OPT_STR,
            "size": _INT,
            "checksum": _OPT_STR,
        },
        "crypto": {"header_sha256": _STR, "kek_ref": _STR},
        "plaintext_sha256": _STR,
        "ciphertext_sha256": _STR,
        "verify": {"mode": _STR, "result": _STR},
        "ts": _STR,
    },
    "rewrap": {
        "dataset": _STR,
        "object_id": _STR,
        "from_kek_ref": _STR,
        "to_kek_ref": _STR,
        "header_sha256": _STR,
        "ts": _STR,
    },
    "cutover": {"dataset": _STR, "wave": _STR, "from_state": _STR, "to_state": _STR, "ts": _STR},
    "rollback": {"dataset": _STR, "wave": _STR, "from_state": _STR, "ts": _STR},
    CHECKPOINT: {"note": _STR},
}

_SECRET_NAME = re.compile(
    r"(^|[_\-.])(secret|password|passwd|passphrase|pin|token|credentials?|private|api_?key)"
    r"([_\-.]|$)",
    re.IGNORECASE,
)
_PRIVATE_PEM = "PRIVATE KEY-----"


class RecordRefused(ValueError):
    """A record breaks the manifest schema or would put a secret into the manifest."""


# --------------------------------------------------------------------------- records


def check_record(record: Mapping[str, Any]) -> None:
    """Raise RecordRefused unless ``record`` is a well-formed, secret-free record."""
    kind = record.get("type")
    if kind not in RECORD_FIELDS:
        raise RecordRefused(f"unknown record type {kind!r}; expected one of {list(RECORD_FIELDS)}")
    _check_fields(record, RECORD_FIELDS[str(kind)], str(kind))
    _check_no_secrets(record, "$")


def _check_fields(record: Mapping[str, Any], spec: _Spec, where: str) -> None:
    for name, expected in spec.items():
        if name not in record:
            raise RecordRefused(f"{where}: missing field {name!r}")
        value = record[name]
        if isinstance(expected, Mapping):
            if not isinstance(value, Mapping):
                raise RecordRefused(f"{where}.{name}: expected an object")
            _check_fields(value, expected, f"{where}.{name}")
        elif not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            raise RecordRefused(f"{where}.{name}: expected {_names(expected)}")


def _names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _check_no_secrets(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and _secret_name(key):
                raise RecordRefused(f"{path}.{key}: a field named like a secret is refused")
            if not isinstance(item, int | None):
                _check_no_secrets(item, f"{path}.{key}")
    elif isinstance(value, str):
        if _PRIVATE_PEM in value:
            raise RecordRefused(f"{path}: looks like a private key; the manifest holds no secrets")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_no_secrets(item, f"{path}[{index}]")
    elif isinstance(value, SecretRef):
        raise RecordRefused(f"{path}: a secret reference cannot go into the manifest")


@functools.lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:
    return _SECRET_NAME.search(key) is not None


def encode_record(record: Mapping[str, Any]) -> bytes:
    """The canonical line of a checked record (no newline); RecordRefused if invalid."""
    check_record(record)
    try:
        return encode_canonical(dict(record))
    except CanonicalError as exc:
        raise RecordRefused(str(exc)) from None


def public_key_path(manifest: str | Path) -> Path:
    """Where the public key is stored alongside a manifest: ``<name>.pub``."""
    return Path(manifest).with_suffix(".pub")


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- scanning


class _Bad(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


@dataclass
class _Mark:
    line: int
    size: int
    root: bytes


@dataclass
class _Scan:
    """What one streaming pass over a manifest learned (O(log n) + one mark per checkpoint)."""

    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    origin: str | None = None
    lines: int = 0
    marks: list[_Mark] = field(default_factory=list)
    last_note: str | None = None
    first_unsigned_line: int | None = None
    anchor_seen: bool = False
    last_leaf: bytes | None = None
    last_leaf_line: int = 0
    broken_link: tuple[int, int] | None = None


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(handle, 1):
        if not raw.endswith(b"\n"):
            raise _Bad(number, "truncated line (no newline): the file was cut short")
        yield number, raw[:-1]


def _parse(number: int, line: bytes) -> dict[str, Any]:
    try:
        record = decode_canonical(line)
    except CanonicalError as exc:
        raise _Bad(number, f"not a canonical record: {exc}") from None
    if not isinstance(record, dict):
        raise _Bad(number, "a record must be a JSON object")
    try:
        check_record(record)
    except RecordRefused as exc:
        raise _Bad(number, str(exc)) from None
    return record


def _scan(
    path: Path,
    public_key: bytes,
    anchor: SignedCheckpoint | None = None,
    state: _Scan | None = None,
) -> _Scan:
    """Stream every line: rehash leaves, check links, signatures and roots; raise _Bad.

    A broken ``prev`` link is resolved one leaf later to name the altered line; any other
    problem found meanwhile (a checkpoint no longer matching) is reported as that line.
    """
    state = state if state is not None else _Scan()
    try:
        with path.open("rb") as handle:
            for number, line in _lines(handle):
                state.lines = number
                _step(state, number, line, _parse(number, line), public_key)
                _check_anchor(state, number, anchor)
    except _Bad:
        _raise_pending(state)
        raise
    _raise_pending(state)
    return state


def _raise_pending(state: _Scan) -> None:
    _raise_broken_link(state, None)


def _step(state: _Scan, number: int, line: bytes, record: dict[str, Any], key: bytes) -> None:
    if record["type"] == CHECKPOINT:
        _check_checkpoint(state, number, record, key)
        return
    if state.tree.size == 0 and record["type"] != "run":
        raise _Bad(number, "the first record must be a 'run' record")
    _check_link(state, number, record.get("prev"))
    if record["type"] == "run":
        _check_run_key(number, record, key)
    state.last_leaf, state.last_leaf_line = merkle.leaf_hash(line), number
    state.tree.append(state.last_leaf)
    if state.first_unsigned_line is None:
        state.first_unsigned_line = number


def _check_link(state: _Scan, number: int, prev: Any) -> None:
    expected = state.last_leaf.hex() if state.last_leaf is not None else None
    if state.broken_link is not None:
        _raise_broken_link(state, prev == expected)
    if prev != expected:
        state.broken_link = (state.last_leaf_line or number, number)


def _raise_broken_link(state: _Scan, next_link_ok: bool | None) -> None:
    """Name the altered line once the link after the first broken one is known."""
    if state.broken_link is None:
        return
    (before, after), state.broken_link = state.broken_link, None
    if next_link_ok is False:
        raise _Bad(after, "record altered, inserted or out of order (both of its links broken)")
    raise _Bad(
        before,
        f"record altered, or a record after it removed (line {after} links to another record)",
    )


def _check_run_key(number: int, record: Mapping[str, Any], key: bytes) -> None:
    signer = record.get("signer")
    named = signer.get("fingerprint") if isinstance(signer, Mapping) else None
    if named != fingerprint(key):
        raise _Bad(
            number,
            f"run record names signing key {named}, but the public key given is "
            f"{fingerprint(key)} (wrong public key, or the manifest was re-signed)",
        )


def _check_checkpoint(state: _Scan, number: int, record: Mapping[str, Any], key: bytes) -> None:
    signed = _parse_note(number, record["note"])
    linked = record.get("prev") == (state.last_leaf.hex() if state.last_leaf else None)
    _raise_broken_link(state, linked)
    cp = signed.checkpoint
    matches = (cp.size, cp.root) == (state.tree.size, state.tree.root())
    if not linked and state.last_leaf_line and not (matches and signed.verify(key)):
        raise _Bad(
            state.last_leaf_line,
            f"record altered, or a record after it removed (the checkpoint on line {number} "
            "no longer matches it)",
        )
    if not linked:
        raise _Bad(number, "checkpoint record altered (its link to the last record is broken)")
    if state.origin is not None and cp.origin != state.origin:
        raise _Bad(number, f"checkpoint origin {cp.origin!r} differs from {state.origin!r}")
    if not matches:
        raise _Bad(number, _mismatch(state, cp.size))
    if not signed.verify(key):
        raise _Bad(number, "checkpoint signature is invalid for this public key")
    state.origin = cp.origin
    state.marks.append(_Mark(number, cp.size, cp.root))
    state.last_note, state.first_unsigned_line = record["note"], None


def _parse_note(number: int, note: str) -> SignedCheckpoint:
    try:
        return parse_signed_checkpoint(note)
    except CheckpointError as exc:
        raise _Bad(number, f"malformed checkpoint: {exc}") from None


def _mismatch(state: _Scan, size: int) -> str:
    since = state.marks[-1].line + 1 if state.marks else 1
    if size != state.tree.size:
        return f"checkpoint covers {size} records but {state.tree.size} precede it"
    return f"checkpoint root does not match the records on lines {since}-{state.lines - 1}"


def _check_anchor(state: _Scan, number: int, anchor: SignedCheckpoint | None) -> None:
    if anchor is not None and state.tree.size == anchor.checkpoint.size:
        if state.tree.root() != anchor.checkpoint.root:
            raise _Bad(number, "the records differ from the checkpoint kept elsewhere")
        state.anchor_seen = True


def _leaf_hashes(path: Path) -> Iterator[bytes]:
    """The leaf hashes of a manifest, streamed (checkpoint lines skipped)."""
    with path.open("rb") as handle:
        for _, line in _lines(handle):
            if _type_of(line) != CHECKPOINT:
                yield merkle.leaf_hash(line)


def _type_of(line: bytes) -> Any:
    """The record type of a line already validated by a first pass (fast path)."""
    record = json.loads(line)
    return record.get("type") if isinstance(record, dict) else None


def _check_consistency(path: Path, marks: list[_Mark]) -> int:
    """Verify the consistency proof between each pair of consecutive checkpoints."""
    pairs = [(a, b) for a, b in itertools.pairwise(marks) if 0 < a.size < b.size]
    per_pair = [merkle.consistency_ranges(a.size, b.size) for a, b in pairs]
    flat = [r for ranges in per_pair for r in ranges]
    hashes = iter(merkle.range_hashes(_leaf_hashes(path), flat)) if flat else iter(())
    for (a, b), ranges in zip(pairs, per_pair, strict=True):
        proof = [next(hashes) for _ in ranges]
        if not merkle.verify_consistency(a.size, b.size, a.root, b.root, proof):
            raise _Bad(b.line, f"checkpoint is not consistent with the one on line {a.line}")
    return len(pairs)


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``verify_manifest``; ``first_bad_line`` is 1-based."""

    path: str
    ok: bool
    lines: int
    records: int
    checkpoints: int
    consistency_proofs: int
    root: str | None
    last_checkpoint: str | None
    first_bad_line: int | None = None
    problem: str | None = None

    def one_line(self) -> str:
        if self.ok:
            return (
                f"{self.path}: {self.records} records, {self.checkpoints} signed checkpoints, "
                f"root {self.root}: ok"
            )
        return f"{self.path}: line {self.first_bad_line}: {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_manifest(
    path: str | Path, public_key: bytes, *, anchor: SignedCheckpoint | None = None
) -> VerifyReport:
    """Check a manifest end to end; never raises for a bad manifest (see ``ok``).

    Every line must be canonical and well-formed, every checkpoint must sign the tree of
    the records before it with ``public_key``, consecutive checkpoints must be consistent,
    and no record may follow the last checkpoint. ``anchor`` is a signed checkpoint kept
    elsewhere: the manifest must contain that tree as a prefix (detects truncation to an
    earlier checkpoint). Raises UsageError only when the file cannot be read.
    """
    path = Path(path)
    _must_exist(path)
    state = _Scan()
    try:
        _scan(path, public_key, anchor, state)
        _check_complete(state, anchor, public_key)
        proofs = _check_consistency(path, state.marks)
    except _Bad as bad:
        return _report(path, state, bad.line, bad.message)
    except OSError as exc:
        raise UsageError(f"manifest {path}: {exc.strerror}", hint="check the path") from None
    return _report(path, state, None, None, proofs)


def _must_exist(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"manifest {path}: no such file", hint="check the path")


def _check_complete(state: _Scan, anchor: SignedCheckpoint | None, key: bytes) -> None:
    if state.lines == 0:
        raise _Bad(1, "the manifest is empty")
    if state.first_unsigned_line is not None:
        raise _Bad(
            state.first_unsigned_line,
            "records after the last signed checkpoint (the run did not close the manifest; "
            "resume it to seal them)",
        )
    if anchor is not None and not anchor.verify(key):
        raise _Bad(state.lines, "the checkpoint kept elsewhere has an invalid signature")
    if anchor is not None and anchor.checkpoint.origin != state.origin:
        raise _Bad(state.lines, "the checkpoint kept elsewhere belongs to another manifest")
    if anchor is not None and not state.anchor_seen:
        raise _Bad(
            state.lines,
            f"the manifest is shorter than the checkpoint kept elsewhere "
            f"({anchor.checkpoint.size} records): it was truncated",
        )


def _report(
    path: Path, state: _Scan, line: int | None, problem: str | None, proofs: int = 0
) -> VerifyReport:
    root = state.tree.root().hex() if state.marks else None
    return VerifyReport(
        path=str(path),
        ok=problem is None,
        lines=state.lines,
        records=state.tree.size,
        checkpoints=len(state.marks),
        consistency_proofs=proofs,
        root=root,
        last_checkpoint=state.last_note,
        first_bad_line=line,
        problem=problem,
    )


# --------------------------------------------------------------------------- prove


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
    _must_exist(path)
    index, line, note = _find_object(path, object_id)
    checkpoint = parse_signed_checkpoint(note).checkpoint
    if index >= checkpoint.size:
        raise VerificationError(
            f"object {object_id!r} is not yet covered by a signed checkpoint",
            hint="resume or close the run so the manifest is sealed",
        )
    audit = merkle.inclusion_proof(_leaf_hashes(path), index, checkpoint.size)
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
            for number, line in _lines(handle):
                record = _parse(number, line)
                if record["type"] == CHECKPOINT:
                    note = record["note"]
                    continue
                if record["type"] == "object" and record["object_id"] == object_id:
                    found = (leaves, line)
                leaves += 1
        except _Bad as bad:
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


# --------------------------------------------------------------------------- writer


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
        self._claim_public_key()
        self.dropped_bytes = _drop_torn_tail(self.path)
        self._tree, self._signed_size, self._last_leaf = self._restore()
        self._handle: BinaryIO | None = self.path.open("ab")
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
            state = _scan(self.path, self._key)
            _check_consistency(self.path, state.marks)
        except _Bad as bad:
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
            full["signer"] = signer
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
