"""The evidence bundle: one tar.gz an auditor checks offline.

Layout (every path relative, regular files only)::

    index.json                     canonical JSON: tool version, plan, signer, every file
                                   with its size and SHA-256
    index.sig                      base64 Ed25519 signature of DOMAIN + index.json, by the
                                   manifest signer (the HSM key when the plan names one)
    manifest/manifest.jsonl        the signed manifest, and manifest.pub
    checkpoints/latest.checkpoint  the last signed checkpoint (an anchor against truncation)
    plan/<file>                    the plan file (references only, never secrets)
    keys/allowed_signers/<wave>    who could approve each wave (OpenSSH format)
    approvals/<wave>/<n>-<who>.json(.sig)  each signed approval as ssh-keygen checks it
    reports/…  probes/…  policy/findings.json  evidence/…

``verify_bundle`` checks, without any server: a safe archive (no links, no absolute or
``..`` paths, no duplicates); the index signature (against ``--public-key`` when given,
else the bundle's own key, which it says proves integrity only); each file's size and
SHA-256 against the index, and no file outside it; the manifest in full (chain, Merkle
roots, checkpoint signatures and consistency) anchored on the bundled checkpoint; each
approval's SSH signature against the bundled allowed_signers and its presence in the
manifest. The first problem names the file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from hdh_migrate.integrity import sshsig
from hdh_migrate.integrity.canonical import CanonicalError, decode_canonical
from hdh_migrate.integrity.checkpoint import CheckpointError, parse_signed_checkpoint
from hdh_migrate.integrity.manifest_verify import verify_manifest
from hdh_migrate.integrity.signing import (
    fingerprint,
    load_public_key,
    parse_public_key,
    verify_signature,
)

KIND = "hdh-migrate-evidence-bundle"
DOMAIN = b"hdh-migrate evidence bundle v1\n"
INDEX, SIGNATURE = "index.json", "index.sig"
MANIFEST, PUBLIC_KEY = "manifest/manifest.jsonl", "manifest/manifest.pub"
CHECKPOINT = "checkpoints/latest.checkpoint"
APPROVAL_NAMESPACE = "hdh-migrate-approval"
_CHUNK = 1 << 20


class BundleProblem(Exception):
    """The first thing wrong with a bundle, naming the file."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass
class BundleReport:
    ok: bool
    path: str
    files: int = 0
    trusted: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    bad_file: str | None = None
    problem: str | None = None

    def one_line(self) -> str:
        if self.ok:
            return f"{self.path}: {self.files} file(s) verified; " + "; ".join(self.checks)
        return f"{self.path}: {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def safe_name(name: str) -> str:
    """``name`` if it is a plain relative POSIX path inside the bundle, else BundleProblem."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or name != str(path):
        raise BundleProblem(name or "(empty name)", "unsafe path in the archive")
    return name


def sign_index(index: bytes, sign: Any) -> bytes:
    """The ``index.sig`` text for ``index`` signed by ``sign(bytes) -> signature``."""
    return base64.b64encode(sign(DOMAIN + index)) + b"\n"


def verify_bundle(path: str | Path, public_key: Path | None = None) -> BundleReport:
    """Check the bundle at ``path`` offline (see the module docstring)."""
    path = Path(path)
    report = BundleReport(False, str(path))
    try:
        with tempfile.TemporaryDirectory(prefix="hdh-bundle-") as scratch:
            root = Path(scratch)
            digests = _unpack(path, root)
            _check(root, digests, public_key, report)
    except BundleProblem as problem:
        report.bad_file, report.problem = problem.name, str(problem)
        return report
    report.ok = True
    return report


# ---------------------------------------------------------------- archive


def _unpack(path: Path, root: Path) -> dict[str, tuple[int, str]]:
    """Extract regular files into ``root`` (names checked, nothing followed); their sizes
    and SHA-256 digests, computed while streaming."""
    digests: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if member.isdir():
                    safe_name(member.name.rstrip("/"))
                    continue
                name = safe_name(member.name)
                if not member.isfile():
                    raise BundleProblem(name, "not a regular file (links are refused)")
                if name in digests:
                    raise BundleProblem(name, "appears twice in the archive")
                source = archive.extractfile(member)
                assert source is not None
                digests[name] = _copy(source, root / name)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleProblem(path.name, f"not a readable tar.gz ({exc})") from None
    return digests


def _copy(source: IO[bytes], target: Path) -> tuple[int, str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with target.open("xb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


# ---------------------------------------------------------------- checks


def _check(
    root: Path, digests: dict[str, tuple[int, str]], given: Path | None, report: BundleReport
) -> None:
    for needed in (INDEX, SIGNATURE, MANIFEST, PUBLIC_KEY):
        if needed not in digests:
            raise BundleProblem(needed, "missing from the bundle")
    index_bytes = (root / INDEX).read_bytes()
    index = _index(index_bytes)
    key = _trusted(root, given, report)
    _check_signature(root, index_bytes, key)
    if index.get("signer", {}).get("fingerprint") != fingerprint(key):
        raise BundleProblem(INDEX, "names another signer than the key checked against")
    report.checks.append(f"index signed by {fingerprint(key)}")
    _check_files(index, digests)
    report.files = len(digests)
    _check_manifest(root, key, report)
    _check_approvals(root, digests, report)


def _index(data: bytes) -> dict[str, Any]:
    try:
        index = decode_canonical(data.rstrip(b"\n"))
    except (CanonicalError, UnicodeDecodeError) as exc:
        raise BundleProblem(INDEX, f"not canonical JSON ({exc})") from None
    if not isinstance(index, dict) or index.get("kind") != KIND:
        raise BundleProblem(INDEX, "not an hdh-migrate evidence bundle index")
    return index


def _trusted(root: Path, given: Path | None, report: BundleReport) -> bytes:
    bundled = parse_public_key((root / PUBLIC_KEY).read_bytes(), PUBLIC_KEY)
    if given is None:
        report.trusted = {
            "fingerprint": fingerprint(bundled),
            "source": "the key inside the bundle",
            "origin_proven": False,
        }
        return bundled
    key = load_public_key(given)
    report.trusted = {
        "fingerprint": fingerprint(key),
        "source": f"--public-key {given}",
        "origin_proven": True,
    }
    if key != bundled:
        raise BundleProblem(PUBLIC_KEY, "is not the trusted public key")
    return key


def _check_signature(root: Path, index: bytes, key: bytes) -> None:
    data = (root / SIGNATURE).read_bytes()
    try:
        signature = base64.b64decode(data.strip(), validate=True)
    except ValueError:
        raise BundleProblem(SIGNATURE, "not base64") from None
    if base64.b64encode(signature) + b"\n" != data:
        raise BundleProblem(SIGNATURE, "altered (not the base64 line the signer wrote)")
    if not verify_signature(key, DOMAIN + index, signature):
        raise BundleProblem(
            INDEX, "its signature (index.sig) does not verify: altered or re-signed"
        )


def _check_files(index: dict[str, Any], digests: dict[str, tuple[int, str]]) -> None:
    listed: dict[str, tuple[int, str]] = {}
    for entry in index.get("files", []):
        listed[safe_name(str(entry["path"]))] = (int(entry["size"]), str(entry["sha256"]))
    for name, expected in listed.items():
        if name not in digests:
            raise BundleProblem(name, "listed in the signed index but missing")
        if digests[name] != expected:
            raise BundleProblem(name, "altered (size or SHA-256 differs from the signed index)")
    for name in digests:
        if name not in listed and name not in (INDEX, SIGNATURE):
            raise BundleProblem(name, "not in the signed index (added)")


def _check_manifest(root: Path, key: bytes, report: BundleReport) -> None:
    anchor = None
    if (root / CHECKPOINT).exists():
        try:
            anchor = parse_signed_checkpoint((root / CHECKPOINT).read_text(encoding="utf-8"))
        except (CheckpointError, UnicodeDecodeError) as exc:
            raise BundleProblem(CHECKPOINT, str(exc)) from None
    result = verify_manifest(root / MANIFEST, key, anchor=anchor)
    if not result.ok:
        raise BundleProblem(MANIFEST, result.problem or "does not verify")
    report.checks.append(f"manifest: {result.records} records, root {result.root}")


def _approval_signatures(manifest: Path) -> set[str]:
    found: set[str] = set()
    with manifest.open("rb") as handle:
        for line in handle:
            record = json.loads(line)
            signature = record.get("signature")
            if record.get("event") == "approval" and isinstance(signature, dict):
                found.add(str(signature.get("armored", "")))
    return found


def _check_approvals(root: Path, digests: dict[str, tuple[int, str]], report: BundleReport) -> None:
    in_manifest = _approval_signatures(root / MANIFEST)
    checked = 0
    for name in sorted(n for n in digests if n.startswith("approvals/") and n.endswith(".sig")):
        wave = PurePosixPath(name).parts[1]
        signers = _signers(root, wave)
        armored = (root / name).read_text(encoding="utf-8")
        statement = (root / name.removesuffix(".sig")).read_bytes()
        try:
            parsed = sshsig.parse_signature(armored)
            sshsig.check_signature(parsed, statement, APPROVAL_NAMESPACE)
        except sshsig.SshSigError as exc:
            raise BundleProblem(name, str(exc)) from None
        if not signers.principals(parsed.public_key, APPROVAL_NAMESPACE, _signed_at(statement)):
            raise BundleProblem(name, f"key {parsed.fingerprint} is not in allowed_signers")
        if armored not in in_manifest:
            raise BundleProblem(name, "is not recorded in the manifest")
        checked += 1
    report.checks.append(f"{checked} signed approval(s)")


def _signers(root: Path, wave: str) -> sshsig.AllowedSigners:
    path = root / "keys" / "allowed_signers" / wave
    try:
        return sshsig.AllowedSigners.load(path)
    except sshsig.SshSigError as exc:
        raise BundleProblem(f"keys/allowed_signers/{wave}", str(exc)) from None


def _signed_at(statement: bytes) -> Any:
    from datetime import UTC, datetime

    try:
        return datetime.fromisoformat(json.loads(statement)["timestamp"])
    except (ValueError, KeyError, TypeError):
        return datetime.now(UTC)


def iter_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` in name order, never following a symlink."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path
