"""The signed manifest: write, verify, tamper, resume, prove."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from manifest_helpers import ORIGIN, fixed_clock, object_record, run_record, write_manifest

from hdh_migrate.errors import AuthError, VerificationError
from hdh_migrate.integrity import merkle
from hdh_migrate.integrity.checkpoint import parse_signed_checkpoint
from hdh_migrate.integrity.manifest import (
    InclusionProof,
    ManifestWriter,
    RecordRefused,
    prove,
    public_key_path,
    verify_inclusion,
    verify_manifest,
)
from hdh_migrate.integrity.signing import Ed25519FileSigner, load_public_key
from hdh_migrate.secrets import SecretRef


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def edit(line: bytes, **changes: object) -> bytes:
    record = json.loads(line)
    record.update(changes)
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode() + b"\n"


@pytest.fixture
def manifest(tmp_path: Path, signer: Ed25519FileSigner) -> Path:
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, signer, objects=24, every=10)
    return path


def test_written_manifest_verifies(manifest: Path, signer: Ed25519FileSigner) -> None:
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert report.ok, report.one_line()
    assert (report.records, report.checkpoints, report.consistency_proofs) == (25, 3, 2)
    assert report.lines == 28
    assert load_public_key(public_key_path(manifest)) == signer.public_key_bytes()
    # The root is the RFC 6962 head of the record lines, recomputed independently.
    leaves = [
        merkle.leaf_hash(line.rstrip(b"\n"))
        for line in lines_of(manifest)
        if json.loads(line)["type"] != "checkpoint"
    ]
    assert report.root == merkle.mth(leaves).hex()
    last = parse_signed_checkpoint(report.last_checkpoint or "")
    assert last.checkpoint.size == 25 and last.verify(signer.public_key_bytes())


def test_lines_are_canonical_and_linked(manifest: Path) -> None:
    lines = [line.rstrip(b"\n") for line in lines_of(manifest)]
    records = [json.loads(line) for line in lines]
    assert records[0]["type"] == "run" and "prev" not in records[0]
    assert records[0]["signer"]["fingerprint"].startswith("sha256:")
    last = None
    for line, record in zip(lines, records, strict=True):
        assert record.get("prev") == last
        if record["type"] != "checkpoint":
            last = merkle.leaf_hash(line).hex()
    for line, record in zip(lines, records, strict=True):
        canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert line == canonical.encode()


@pytest.mark.parametrize("target", [1, 5, 10, 12, 27])
def test_one_changed_line_is_named(manifest: Path, signer: Ed25519FileSigner, target: int) -> None:
    lines = lines_of(manifest)
    record = json.loads(lines[target - 1])
    assert record["type"] != "checkpoint"
    lines[target - 1] = edit(lines[target - 1], verify={"mode": "full", "result": "mismatch"})
    rewrite(manifest, lines)
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert not report.ok
    assert report.first_bad_line == target, report.one_line()
    assert f"line {target}:" in report.one_line()


def test_a_reformatted_line_is_detected(manifest: Path, signer: Ed25519FileSigner) -> None:
    lines = lines_of(manifest)
    lines[3] = json.dumps(json.loads(lines[3]), sort_keys=True).encode() + b"\n"
    rewrite(manifest, lines)
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert (report.ok, report.first_bad_line) == (False, 4)


def test_deleted_line_is_detected(manifest: Path, signer: Ed25519FileSigner) -> None:
    lines = lines_of(manifest)
    del lines[6]  # line 7
    rewrite(manifest, lines)
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert not report.ok
    assert report.first_bad_line == 6  # the record after which one is missing
    assert "removed" in (report.problem or "")


def test_reordered_lines_are_detected(manifest: Path, signer: Ed25519FileSigner) -> None:
    lines = lines_of(manifest)
    lines[4], lines[5] = lines[5], lines[4]
    rewrite(manifest, lines)
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert not report.ok
    assert report.first_bad_line == 5


def test_rechained_edit_is_still_caught_by_the_signature(
    manifest: Path, signer: Ed25519FileSigner
) -> None:
    """An editor who also repairs every later link still cannot forge the checkpoint."""
    lines = lines_of(manifest)
    lines[2] = edit(lines[2], dataset="cohort-z")
    prev = merkle.leaf_hash(lines[2].rstrip(b"\n"))
    for i in range(3, len(lines)):
        lines[i] = edit(lines[i], prev=prev.hex())
        if json.loads(lines[i])["type"] != "checkpoint":
            prev = merkle.leaf_hash(lines[i].rstrip(b"\n"))
    rewrite(manifest, lines)
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert not report.ok
    assert report.first_bad_line == 11  # the first checkpoint after the edit
    assert "lines 1-10" in (report.problem or "")


def test_forged_signature_is_detected(manifest: Path, signer: Ed25519FileSigner) -> None:
    lines = lines_of(manifest)
    cp = json.loads(lines[10])
    signed = parse_signed_checkpoint(cp["note"])
    forged = type(signed)(signed.checkpoint, signed.key_name, signed.key_hash, bytes(64))
    lines[10] = edit(lines[10], note=forged.text())
    rewrite(manifest, lines)
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert (report.ok, report.first_bad_line) == (False, 11)
    assert "signature" in (report.problem or "")


def test_resigned_by_another_key_is_detected(manifest: Path, signer: Ed25519FileSigner) -> None:
    other = Ed25519FileSigner.generate("attacker")
    report = verify_manifest(manifest, other.public_key_bytes())
    assert (report.ok, report.first_bad_line) == (False, 1)
    assert "wrong public key" in (report.problem or "")


def test_truncated_files_are_detected(manifest: Path, signer: Ed25519FileSigner) -> None:
    data = manifest.read_bytes()
    lines = lines_of(manifest)
    manifest.write_bytes(data[:-7])  # cut inside the last line
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert (report.ok, report.first_bad_line) == (False, len(lines))
    rewrite(manifest, lines[:-1])  # the final checkpoint removed: unsigned records
    report = verify_manifest(manifest, signer.public_key_bytes())
    assert (report.ok, report.first_bad_line) == (False, 23)
    manifest.write_bytes(b"")
    assert not verify_manifest(manifest, signer.public_key_bytes()).ok


def test_truncation_to_an_earlier_checkpoint_needs_an_anchor(
    manifest: Path, signer: Ed25519FileSigner
) -> None:
    key = signer.public_key_bytes()
    final = parse_signed_checkpoint(verify_manifest(manifest, key).last_checkpoint or "")
    rewrite(manifest, lines_of(manifest)[:22])  # ends on the checkpoint of 20 records
    assert verify_manifest(manifest, key).ok  # a shorter, valid manifest on its own
    report = verify_manifest(manifest, key, anchor=final)
    assert not report.ok and "truncated" in (report.problem or "")


def test_secrets_are_refused(tmp_path: Path, signer: Ed25519FileSigner) -> None:
    with ManifestWriter(tmp_path / "m.jsonl", signer, ORIGIN) as writer:
        writer.append(run_record())
        for bad in (
            {**object_record(1), "secret_key": "x"},
            {**object_record(1), "crypto": {"header_sha256": "0", "kek_ref": "k", "pin": "1234"}},
            {**object_record(1), "extra": SecretRef.parse("${env:HDH_TOKEN}")},
            {**object_record(1), "note": "-----BEGIN PRIVATE KEY-----\nMC4CAQ"},
            {**object_record(1), "db_password": "x"},
        ):
            with pytest.raises(RecordRefused):
                writer.append(bad)
        assert writer.size == 1
    assert "1234" not in (tmp_path / "m.jsonl").read_text()


def test_schema_is_enforced(tmp_path: Path, signer: Ed25519FileSigner) -> None:
    with ManifestWriter(tmp_path / "m.jsonl", signer, ORIGIN) as writer:
        with pytest.raises(RecordRefused, match="first record"):
            writer.append(object_record(1))
        writer.append(run_record())
        incomplete = object_record(1)
        del incomplete["target"]["size"]
        for bad in (
            incomplete,
            {**object_record(1), "type": "bogus"},
            {**object_record(1), "source": {"uri": "u", "etag": "e", "size": 1.5}},
            {**object_record(1), "source": {"uri": "u", "etag": "e", "size": True}},
            {"type": "checkpoint", "note": "x"},
        ):
            with pytest.raises(RecordRefused):
                writer.append(bad)


def test_checkpoints_every_n_and_fsync_on_close(manifest: Path) -> None:
    kinds = [json.loads(line)["type"] for line in lines_of(manifest)]
    assert [i + 1 for i, k in enumerate(kinds) if k == "checkpoint"] == [11, 22, 28]


def test_resume_continues_the_same_tree(tmp_path: Path, signer: Ed25519FileSigner) -> None:
    path = tmp_path / "manifest.jsonl"
    write_manifest(path, signer, objects=7, every=4)
    with ManifestWriter(path, signer, ORIGIN, checkpoint_every=4, clock=fixed_clock) as writer:
        assert writer.size == 8
        writer.append(run_record("run-2"))
        assert writer.append(object_record(100)) == 9
    report = verify_manifest(path, signer.public_key_bytes())
    assert report.ok, report.one_line()
    assert report.records == 10 and report.consistency_proofs == report.checkpoints - 1
    # The final root equals a tree built in one go over the same lines.
    leaves = [
        merkle.leaf_hash(line.rstrip(b"\n"))
        for line in lines_of(path)
        if json.loads(line)["type"] != "checkpoint"
    ]
    assert report.root == merkle.mth(leaves).hex()


def test_resume_after_a_crash_drops_the_torn_line(
    tmp_path: Path, signer: Ed25519FileSigner
) -> None:
    path = tmp_path / "manifest.jsonl"
    writer = ManifestWriter(path, signer, ORIGIN, checkpoint_every=3, clock=fixed_clock)
    writer.append(run_record())
    for i in range(4):
        writer.append(object_record(i))
    writer._handle.close()  # type: ignore[union-attr]  # a crash: no final checkpoint
    writer._handle = None
    with path.open("ab") as handle:
        handle.write(b'{"dataset":"cohort-a","obj')
    assert not verify_manifest(path, signer.public_key_bytes()).ok
    with ManifestWriter(path, signer, ORIGIN, checkpoint_every=3) as resumed:
        assert resumed.dropped_bytes == len(b'{"dataset":"cohort-a","obj')
        assert resumed.size == 5
        resumed.append(object_record(9))
    assert verify_manifest(path, signer.public_key_bytes()).ok


def test_resume_refuses_an_altered_manifest(manifest: Path, signer: Ed25519FileSigner) -> None:
    lines = lines_of(manifest)
    lines[4] = edit(lines[4], dataset="other")
    rewrite(manifest, lines)
    with pytest.raises(VerificationError, match="line 5"):
        ManifestWriter(manifest, signer, ORIGIN)


def test_resume_with_another_key_is_refused(manifest: Path) -> None:
    with pytest.raises(AuthError, match="another public key"):
        ManifestWriter(manifest, Ed25519FileSigner.generate("other"), ORIGIN)


def test_prove_and_verify_inclusion(manifest: Path, signer: Ed25519FileSigner) -> None:
    key = signer.public_key_bytes()
    for i in (0, 9, 17, 23):
        proof = prove(manifest, f"cohort-a/patients/é {i:05d}.parquet")
        assert proof.leaf_index == i + 1 and proof.tree_size == 25
        assert verify_inclusion(proof, key)
        assert InclusionProof.from_dict(json.loads(json.dumps(proof.to_dict()))) == proof
    proof = prove(manifest, "cohort-a/patients/é 00003.parquet")
    tampered = edit(proof.record.encode(), dataset="x").decode().rstrip("\n")
    assert not verify_inclusion(InclusionProof(**{**proof.to_dict(), "record": tampered}), key)
    assert not verify_inclusion(proof, Ed25519FileSigner.generate("x").public_key_bytes())
    wrong_path = (*proof.audit_path[:-1], "00" * 32)
    assert not verify_inclusion(
        InclusionProof(**{**proof.to_dict(), "audit_path": wrong_path}), key
    )
    with pytest.raises(VerificationError, match="not in manifest"):
        prove(manifest, "nope")


def test_writer_memory_is_logarithmic(tmp_path: Path, signer: Ed25519FileSigner) -> None:
    with ManifestWriter(tmp_path / "m.jsonl", signer, ORIGIN, checkpoint_every=500) as writer:
        writer.append(run_record())
        for i in range(3000):
            writer.append(object_record(i))
        assert len(writer._tree.nodes) == (3001).bit_count()
    assert verify_manifest(tmp_path / "m.jsonl", signer.public_key_bytes()).ok


def test_verify_and_prove_memory_does_not_grow_with_records(
    tmp_path: Path, signer: Ed25519FileSigner
) -> None:
    peaks = []
    for n in (400, 3200):
        path = tmp_path / f"m{n}.jsonl"
        with ManifestWriter(path, signer, ORIGIN, checkpoint_every=10**9) as writer:
            writer.append(run_record())
            for i in range(n):
                writer.append(object_record(i))
        tracemalloc.start()
        assert verify_manifest(path, signer.public_key_bytes()).ok
        assert prove(path, object_record(n - 1)["object_id"]).leaf_index == n
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < peaks[0] + 16 * 1024, peaks  # 8x the records, same memory
