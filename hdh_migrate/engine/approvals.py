"""Signed approvals: an approver signs the gate's statement with their own SSH key.

The statement (canonical JSON, one line) names what is approved: the plan and the digest
of its bytes, the wave, the freeze epoch (number of rollbacks so far: a rollback makes
every approval lapse), the manifest's signed checkpoint (tree size and root: the evidence
the approver looked at) and a timestamp. The approver signs it in the SSHSIG format with
the namespace ``hdh-migrate-approval`` — ``ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n
hdh-migrate-approval statement.json`` or ``hdh-migrate approve --key`` — giving
``statement.json.sig``; the cutover takes ``--approval statement.json.sig`` (the statement
beside it).

``check`` accepts an approval when the signature verifies, its key is listed in the wave's
``allowed_signers`` for the namespace, and the statement matches this plan, wave, epoch and
a checkpoint the manifest still holds, within ``approval_max_age``. Any other case is a
refused gate (exit 6) naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hdh_migrate.errors import GateRefusedError, UsageError
from hdh_migrate.integrity import sshsig
from hdh_migrate.integrity.canonical import CanonicalError, decode_canonical, encode_canonical

NAMESPACE = "hdh-migrate-approval"
KIND = "hdh-migrate-approval"
_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Statement:
    """What an approver signs."""

    plan: str
    plan_digest: str
    wave: str
    freeze_epoch: int
    tree_size: int
    root: str
    timestamp: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "v": 1,
            "plan": self.plan,
            "plan_digest": self.plan_digest,
            "wave": self.wave,
            "freeze_epoch": self.freeze_epoch,
            "manifest": {"tree_size": self.tree_size, "root": self.root},
            "timestamp": self.timestamp,
        }

    def to_bytes(self) -> bytes:
        """The signed bytes: canonical JSON and a newline."""
        return encode_canonical(self.to_dict()) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> Statement:
        try:
            value = decode_canonical(data.rstrip(b"\n"))
            if not isinstance(value, dict) or value.get("kind") != KIND:
                raise CanonicalError("not an hdh-migrate approval statement")
            manifest = value["manifest"]
            return cls(
                str(value["plan"]),
                str(value["plan_digest"]),
                str(value["wave"]),
                int(value["freeze_epoch"]),
                int(manifest["tree_size"]),
                str(manifest["root"]),
                str(value["timestamp"]),
            )
        except (CanonicalError, KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"approval statement {name}: {exc}",
                hint="pass the FILE.sig of a statement written by `hdh-migrate approve`",
            ) from None


@dataclass(frozen=True)
class Expected:
    """What the statement must say now, and the checkpoints the manifest holds."""

    plan: str
    plan_digest: str
    wave: str
    freeze_epoch: int
    checkpoints: Collection[tuple[int, str]]
    now: datetime
    max_age_s: int


@dataclass(frozen=True)
class SignedApproval:
    """A verified approval: who (principals of the key in allowed_signers), which key."""

    principal: str
    principals: tuple[str, ...]
    fingerprint: str
    statement: Statement
    signature: str
    source: str

    def record(self) -> dict[str, Any]:
        """The manifest's evidence: enough to re-verify offline with the allowed_signers."""
        return {
            "format": "sshsig",
            "namespace": NAMESPACE,
            "principal": self.principal,
            "principals": list(self.principals),
            "key_fingerprint": self.fingerprint,
            "statement": self.statement.to_dict(),
            "armored": self.signature,
        }

    def journal_detail(self) -> str:
        digest = hashlib.sha256(self.statement.to_bytes()).hexdigest()
        detail = {"kind": "sshsig", "fingerprint": self.fingerprint, "statement_sha256": digest}
        return json.dumps(detail | {"principals": list(self.principals)})


def read(sig_path: Path) -> tuple[bytes, str]:
    """The statement bytes (the file beside ``FILE.sig``) and the armored signature."""
    statement = sig_path.with_suffix("") if sig_path.suffix == ".sig" else None
    if statement is None:
        raise UsageError(f"--approval {sig_path}: expected FILE.sig with FILE beside it")
    try:
        return statement.read_bytes(), sig_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--approval {sig_path}: {exc}") from None


def check(
    sig_path: Path,
    signers: sshsig.AllowedSigners,
    expected: Expected,
) -> SignedApproval:
    """Verify one approval file; GateRefusedError (exit 6) saying why it is refused."""
    data, armored = read(sig_path)
    try:
        signature = sshsig.parse_signature(armored)
        sshsig.check_signature(signature, data, NAMESPACE)
    except sshsig.SshSigError as exc:
        raise _refused(sig_path, str(exc)) from None
    principals = tuple(signers.principals(signature.public_key, NAMESPACE, expected.now))
    if not principals:
        raise _refused(
            sig_path,
            f"key {signature.fingerprint} is not in allowed_signers for {NAMESPACE!r} (now)",
        )
    statement = Statement.from_bytes(data, str(sig_path))
    _check_statement(sig_path, statement, expected)
    return SignedApproval(
        principals[0], principals, signature.fingerprint, statement, armored, str(sig_path)
    )


def _check_statement(path: Path, statement: Statement, expected: Expected) -> None:
    if (statement.plan, statement.plan_digest) != (expected.plan, expected.plan_digest):
        raise _refused(path, "signed for another plan or another version of this plan")
    if statement.wave != expected.wave:
        raise _refused(path, f"signed for wave {statement.wave!r}")
    if statement.freeze_epoch != expected.freeze_epoch:
        raise _refused(
            path,
            f"replayed: signed for freeze epoch {statement.freeze_epoch}, the wave is at "
            f"epoch {expected.freeze_epoch} (a rollback makes approvals lapse)",
        )
    if (statement.tree_size, statement.root) not in expected.checkpoints:
        raise _refused(path, "the manifest checkpoint it approves is not in this manifest")
    try:
        at = datetime.fromisoformat(statement.timestamp)
    except ValueError:
        raise _refused(path, f"bad timestamp {statement.timestamp!r}") from None
    if at.tzinfo is None or at > expected.now + _SKEW:
        raise _refused(path, f"timestamp {statement.timestamp} is in the future or has no zone")
    if at < expected.now - timedelta(seconds=expected.max_age_s):
        raise _refused(path, f"signed at {statement.timestamp}, older than approval_max_age")


def _refused(path: Path, why: str) -> GateRefusedError:
    return GateRefusedError(
        f"gate approvals refused: approval {path}: {why}",
        hint="have the approver sign a fresh statement (`hdh-migrate approve PLAN --wave W`)",
    )


def load_signers(path: str) -> sshsig.AllowedSigners:
    """The wave's allowed_signers; UsageError (exit 2) when unreadable or malformed."""
    try:
        return sshsig.AllowedSigners.load(path)
    except sshsig.SshSigError as exc:
        raise UsageError(str(exc), hint="fix gates.allowed_signers (ssh-keygen format)") from None


def sign_statement(statement: Statement, key_path: Path, out: Path) -> Path:
    """Write ``out`` (the statement) and ``out.sig`` signed with the SSH key at
    ``key_path``; return the .sig path. UsageError for an unusable key."""
    try:
        key = sshsig.load_private_key(key_path)
    except (OSError, sshsig.SshSigError) as exc:
        raise UsageError(f"--key {key_path}: {exc}") from None
    data = statement.to_bytes()
    out.write_bytes(data)
    sig = out.with_name(out.name + ".sig")
    sig.write_text(sshsig.sign(key, data, NAMESPACE), encoding="utf-8")
    return sig


def roles_met(
    roles: dict[str, list[str]], approvals: Sequence[Sequence[str]]
) -> tuple[list[str], list[str]]:
    """(roles covered, roles missing) given each approval's principals."""
    covered: list[str] = []
    missing: list[str] = []
    for role, patterns in roles.items():
        held = any(sshsig.match_patterns(patterns, p) for ps in approvals for p in ps)
        (covered if held else missing).append(role)
    return covered, missing
