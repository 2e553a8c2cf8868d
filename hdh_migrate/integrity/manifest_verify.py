"""``verify_manifest``: a manifest checked end to end, the outcome as a ``VerifyReport``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hdh_migrate.errors import UsageError
from hdh_migrate.integrity.checkpoint import SignedCheckpoint
from hdh_migrate.integrity.manifest_scan import (
    BadLine,
    Scan,
    check_consistency,
    must_exist,
    scan,
)


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
    must_exist(path)
    state = Scan()
    try:
        scan(path, public_key, anchor, state)
        _check_complete(state, anchor, public_key)
        proofs = check_consistency(path, state.marks)
    except BadLine as bad:
        return _report(path, state, bad.line, bad.message)
    except OSError as exc:
        raise UsageError(f"manifest {path}: {exc.strerror}", hint="check the path") from None
    return _report(path, state, None, None, proofs)


def _check_complete(state: Scan, anchor: SignedCheckpoint | None, key: bytes) -> None:
    if state.lines == 0:
        raise BadLine(1, "the manifest is empty")
    if state.first_unsigned_line is not None:
        raise BadLine(
            state.first_unsigned_line,
            "records after the last signed checkpoint (the run did not close the manifest; "
            "resume it to seal them)",
        )
    if anchor is not None and not anchor.verify(key):
        raise BadLine(state.lines, "the checkpoint kept elsewhere has an invalid signature")
    if anchor is not None and anchor.checkpoint.origin != state.origin:
        raise BadLine(state.lines, "the checkpoint kept elsewhere belongs to another manifest")
    if anchor is not None and not state.anchor_seen:
        raise BadLine(
            state.lines,
            f"the manifest is shorter than the checkpoint kept elsewhere "
            f"({anchor.checkpoint.size} records): it was truncated",
        )


def _report(
    path: Path, state: Scan, line: int | None, problem: str | None, proofs: int = 0
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
