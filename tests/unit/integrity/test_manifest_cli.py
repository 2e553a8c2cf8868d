"""``hdh-migrate manifest verify|prove|keygen`` through the CLI boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from manifest_helpers import write_manifest

from hdh_migrate.cli.main import run
from hdh_migrate.integrity.signing import Ed25519FileSigner, fingerprint, load_public_key

ADJ = "--trust-adjacent-key"  # these tests check integrity: the key beside the manifest


@pytest.fixture
def manifest(tmp_path: Path, signer: Ed25519FileSigner) -> Path:
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, signer, objects=12, every=5)
    return path


def test_verify_ok(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["manifest", "verify", str(manifest), ADJ]) == 0
    assert "13 records" in capsys.readouterr().out
    assert run(["manifest", "verify", str(manifest), ADJ, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["checkpoints"] == 3 and report["first_bad_line"] is None


def test_verify_names_the_changed_line(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = manifest.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"size":2000', b'"size":2001')
    manifest.write_bytes(b"".join(lines))
    assert run(["manifest", "verify", str(manifest), ADJ]) == 4
    err = capsys.readouterr().err
    assert "line 4:" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_verify_with_a_trusted_key_and_a_wrong_key(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trusted = tmp_path / "trusted.pub"
    trusted.write_bytes(manifest.with_suffix(".pub").read_bytes())
    assert run(["manifest", "verify", str(manifest), "--public-key", str(trusted)]) == 0
    other = tmp_path / "other.pem"
    assert run(["manifest", "keygen", str(other)]) == 0
    assert other.stat().st_mode & 0o777 == 0o600
    args = ["manifest", "verify", str(manifest), "--public-key", str(tmp_path / "other.pub")]
    assert run(args) == 4
    assert "line 1:" in capsys.readouterr().err


def test_verify_with_a_checkpoint_kept_aside_detects_truncation(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["manifest", "verify", str(manifest), ADJ, "--json"]) == 0
    kept = tmp_path / "final.checkpoint"
    kept.write_text(json.loads(capsys.readouterr().out)["last_checkpoint"], encoding="utf-8")
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines[:12]))  # ends on the checkpoint of 10 records
    assert run(["manifest", "verify", str(manifest), ADJ]) == 0
    assert run(["manifest", "verify", str(manifest), ADJ, "--checkpoint", str(kept)]) == 4
    assert "truncated" in capsys.readouterr().err


def test_objects_modes_other_than_none_are_not_available_yet(manifest: Path) -> None:
    assert run(["manifest", "verify", str(manifest), "--objects", "full"]) == 2
    assert run(["manifest", "verify", str(manifest), "--objects", "bogus"]) == 2


def test_missing_manifest_is_a_usage_error(tmp_path: Path) -> None:
    assert run(["manifest", "verify", str(tmp_path / "nope.jsonl"), ADJ]) == 2


def test_prove(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    object_id = "cohort-a/patients/é 00007.parquet"
    assert run(["manifest", "prove", str(manifest), object_id, ADJ]) == 0
    out = capsys.readouterr().out
    assert "leaf index  8" in out and "tree size   13" in out and "path[0]" in out
    assert run(["manifest", "prove", str(manifest), object_id, ADJ, "--json"]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["verified"] and proof["leaf_index"] == 8 and len(proof["audit_path"]) == 4
    assert run(["manifest", "prove", str(manifest), "absent", ADJ]) == 4


def test_verify_never_silently_trusts_the_pub_beside_the_manifest(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11 row 14: the expected signer comes from outside the state directory."""
    assert run(["manifest", "verify", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "--public-key" in err and "--plan" in err
    assert run(["manifest", "verify", str(manifest), ADJ]) == 0
    out = capsys.readouterr().out
    assert "the .pub beside the manifest" in out and "origin NOT proven" in out
    assert run(["manifest", "verify", str(manifest), ADJ, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trusted"]["origin_proven"] is False

    # an attacker re-signs the whole manifest and replaces the .pub beside it
    attacker = Ed25519FileSigner.generate("attacker")
    forged = tmp_path / "forged" / "manifest.jsonl"
    forged.parent.mkdir()
    from manifest_helpers import write_manifest as rewrite

    rewrite(forged, attacker, objects=12, every=5)
    assert run(["manifest", "verify", str(forged), ADJ]) == 0  # integrity holds …
    capsys.readouterr()
    genuine = fingerprint(load_public_key(manifest.with_suffix(".pub")))
    plan = tmp_path / "plan.yaml"
    plan.write_text(_PLAN.format(fp=genuine))
    assert run(["manifest", "verify", str(forged), "--plan", str(plan)]) == 4  # … origin fails
    assert "is not the signer the plan pins" in capsys.readouterr().err
    assert run(["manifest", "verify", str(manifest), "--plan", str(plan)]) == 0
    assert f"pinned {genuine}" in capsys.readouterr().out
    trusted = tmp_path / "trusted.pub"
    trusted.write_bytes(manifest.with_suffix(".pub").read_bytes())
    assert run(["manifest", "verify", str(forged), "--public-key", str(trusted)]) == 4
    plan.write_text(_PLAN.format(fp="sha256:" + "0" * 64).replace("fingerprint", "# no pin"))
    assert run(["manifest", "verify", str(manifest), "--plan", str(plan)]) == 2


_PLAN = """\
version: 1
name: pinned
policy: {{profile: rehearsal, rehearsal: true, allowed_regions: [local]}}
sources:
  src: {{kind: local, path: /tmp}}
targets:
  t:
    kind: s3
    provider: seaweedfs
    region: local
    endpoint: http://127.0.0.1:9
    bucket: unit-bucket
    credentials: {{access_key: "${{env:NOPE_A}}", secret_key: "${{env:NOPE_S}}"}}
signing:
  kind: file
  private_key: ${{file:/nonexistent/key.pem}}
  fingerprint: {fp}
waves:
  - name: w
    datasets: [{{name: d, source: src, path: x, target: t}}]
"""
