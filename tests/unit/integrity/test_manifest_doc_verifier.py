"""The standalone verifier printed in docs/manifest.md works on real manifests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from manifest_helpers import write_manifest

from hdh_migrate.integrity.manifest import public_key_path, verify_manifest
from hdh_migrate.integrity.signing import Ed25519FileSigner

DOC = Path(__file__).resolve().parents[3] / "docs" / "manifest.md"


def snippet() -> str:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- verifier:start -->")[1].split("<!-- verifier:end -->")[0]
    return block.strip().removeprefix("```python").removesuffix("```")


def run_snippet(tmp_path: Path, manifest: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "verify_manifest.py"
    script.write_text(snippet(), encoding="utf-8")
    args = [sys.executable, str(script), str(manifest), str(public_key_path(manifest))]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_doc_verifier_agrees_with_verify(tmp_path: Path, signer: Ed25519FileSigner) -> None:
    manifest = tmp_path / "manifest.jsonl"
    write_manifest(manifest, signer, objects=40, every=7)
    done = run_snippet(tmp_path, manifest)
    assert done.returncode == 0, done.stderr
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert done.stdout.strip() == f"ok: {report.records} records, root {report.root}"


def test_doc_verifier_catches_a_changed_line(tmp_path: Path, signer: Ed25519FileSigner) -> None:
    manifest = tmp_path / "manifest.jsonl"
    write_manifest(manifest, signer, objects=20, every=7)
    lines = manifest.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"size":1000', b'"size":1001')
    manifest.write_bytes(b"".join(lines))
    done = run_snippet(tmp_path, manifest)
    assert done.returncode != 0 and "line 8: checkpoint does not match" in done.stderr
