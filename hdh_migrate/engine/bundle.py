"""Export a plan's evidence as one signed bundle (layout and checks: integrity/bundle.py).

``export_bundle(plan_path, out)`` gathers the manifest and its public key, the latest
signed checkpoint, the plan file, each wave's allowed_signers, every signed approval (as
the statement and ``.sig`` that ``ssh-keygen -Y verify`` takes), the command reports, the
probe results, the policy findings and the evidence overlays; writes an index of every
file (size, SHA-256) signed by the manifest signer (the HSM key when the plan names one);
and packs it all into a tar.gz. The state directory is only read (the manifest is opened
by the signer to seal anything unsigned first).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdh_migrate import __version__
from hdh_migrate.engine.audit import judge
from hdh_migrate.engine.evidence import manifest_signing, state_paths
from hdh_migrate.engine.run.runner import plan_digest
from hdh_migrate.errors import UsageError
from hdh_migrate.integrity import ManifestWriter, fingerprint
from hdh_migrate.integrity import bundle as layout
from hdh_migrate.integrity.canonical import encode_canonical
from hdh_migrate.integrity.manifest import public_key_path
from hdh_migrate.plan import Plan, load_plan
from hdh_migrate.plan.types import resolve_text

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


@dataclass(frozen=True)
class BundleSummary:
    path: Path
    files: int
    bytes: int
    signer: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "files": self.files,
            "bytes": self.bytes,
            "signer": self.signer,
        }


def export_bundle(plan_path: str | Path, out: str | Path) -> BundleSummary:
    """Write the evidence bundle of the plan at ``plan_path`` to ``out`` (a new file)."""
    plan_path, out = Path(plan_path), Path(out)
    if out.exists():
        raise UsageError(f"{out} already exists", hint="choose another path")
    plan = load_plan(plan_path)
    paths = state_paths(plan)
    if not paths.manifest.exists():
        raise UsageError(
            f"no manifest at {paths.manifest}: nothing has run for plan {plan.name!r}",
            hint="run `hdh-migrate run` first",
        )
    with manifest_signing(plan, paths) as signer:
        with ManifestWriter(paths.manifest, signer, f"hdh-migrate/{plan.name}") as writer:
            writer.checkpoint()  # seal what is unsigned; the bundle's manifest verifies whole
        files = dict(_collect(plan, plan_path, paths.root))
        key = signer.public_key_bytes()
        index = _index(plan, plan_path, files, fingerprint(key))
        signature = layout.sign_index(index, signer.sign)
    members: dict[str, Member] = {**files, layout.INDEX: index, layout.SIGNATURE: signature}
    _pack(out, members)
    return BundleSummary(out, len(members), out.stat().st_size, fingerprint(key))


Member = Path | bytes
"""A bundle file: a file on disk (streamed, never held in memory) or small bytes."""


def _collect(plan: Plan, plan_path: Path, state: Path) -> Iterator[tuple[str, Member]]:
    manifest = state / "manifest.jsonl"
    yield layout.MANIFEST, manifest
    yield layout.PUBLIC_KEY, public_key_path(manifest).read_bytes()
    yield from _latest_checkpoint(manifest)
    yield f"plan/{_safe(plan_path.name)}", plan_path.read_bytes()
    yield from _allowed_signers(plan)
    yield from _approvals(manifest)
    yield from _directory(state / "reports", "reports")
    yield from _directory(state / "probe", "probes")
    yield from _overlays(plan_path)
    findings = [f.to_dict() for f in judge(str(plan_path)).findings]
    yield "policy/findings.json", json.dumps(findings, indent=2, ensure_ascii=False).encode()


def _latest_checkpoint(manifest: Path) -> Iterator[tuple[str, bytes]]:
    last = None
    with manifest.open("rb") as handle:
        for line in handle:
            if b'"type":"checkpoint"' in line:
                last = json.loads(line)["note"]
    if last is not None:
        yield layout.CHECKPOINT, last.encode("utf-8")


def _allowed_signers(plan: Plan) -> Iterator[tuple[str, bytes]]:
    for wave in plan.waves:
        if wave.cutover is not None and wave.cutover.gates.allowed_signers is not None:
            path = Path(resolve_text(wave.cutover.gates.allowed_signers)).expanduser()
            yield f"keys/allowed_signers/{_safe(wave.name)}", path.read_bytes()


def _approvals(manifest: Path) -> Iterator[tuple[str, bytes]]:
    seen: set[str] = set()
    with manifest.open("rb") as handle:
        for line in handle:
            record = json.loads(line)
            signature = record.get("signature")
            if record.get("event") != "approval" or not isinstance(signature, dict):
                continue
            armored = str(signature["armored"])
            if armored in seen:
                continue  # one record per dataset: the same approval
            seen.add(armored)
            who = _safe(str(signature.get("principal", "approver")))
            base = f"approvals/{_safe(record['wave'])}/{len(seen):03d}-{who}.json"
            yield base, encode_canonical(signature["statement"]) + b"\n"
            yield base + ".sig", armored.encode("utf-8")


def _directory(folder: Path, prefix: str) -> Iterator[tuple[str, Member]]:
    if not folder.is_dir():
        return
    for path in layout.iter_files(folder):
        relative = path.relative_to(folder).as_posix()
        yield f"{prefix}/{'/'.join(_safe(p) for p in relative.split('/'))}", path


def _overlays(plan_path: Path) -> Iterator[tuple[str, bytes]]:
    """Evidence overlay files kept beside the plan (``evidence/*.yaml``)."""
    folder = plan_path.parent / "evidence"
    if folder.is_dir():
        for path in sorted(folder.glob("*.y*ml")):
            if path.is_file() and not path.is_symlink():
                yield f"evidence/{_safe(path.name)}", path.read_bytes()


def _digest(member: Member) -> tuple[int, str]:
    if isinstance(member, bytes):
        return len(member), hashlib.sha256(member).hexdigest()
    digest, size = hashlib.sha256(), 0
    with member.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _index(plan: Plan, plan_path: Path, files: dict[str, Member], signer: str) -> bytes:
    entries = []
    for name, member in sorted(files.items()):
        size, sha256 = _digest(member)
        entries.append({"path": name, "size": size, "sha256": sha256})
    index = {
        "kind": layout.KIND,
        "v": 1,
        "tool_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "plan": {"name": plan.name, "digest": plan_digest(plan_path.read_bytes())},
        "signer": {"fingerprint": signer},
        "files": entries,
    }
    return encode_canonical(index) + b"\n"


def _pack(out: Path, members: dict[str, Member]) -> None:
    """The tar.gz, each file streamed (a file that changed since it was indexed makes
    ``evidence verify`` fail naming it: the index is the signed truth)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name in sorted(members):
            member = members[name]
            info = tarfile.TarInfo(layout.safe_name(name))
            info.mode, info.mtime = 0o600, int(time.time())
            if isinstance(member, bytes):
                info.size = len(member)
                archive.addfile(info, io.BytesIO(member))
            else:
                info.size = member.stat().st_size
                with member.open("rb") as handle:
                    archive.addfile(info, handle)


def _safe(part: str) -> str:
    cleaned = _UNSAFE.sub("_", part).strip("._") or "_"
    return cleaned[:120]
