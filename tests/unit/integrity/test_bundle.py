"""The bundle verifier on hand-built archives: hostile members and the signed index."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from manifest_helpers import write_manifest

from hdh_migrate.integrity import bundle
from hdh_migrate.integrity.canonical import encode_canonical
from hdh_migrate.integrity.signing import Ed25519FileSigner, fingerprint, public_key_pem


def _members(tmp_path: Path, signer: Ed25519FileSigner) -> dict[str, bytes]:
    manifest = tmp_path / "m.jsonl"
    write_manifest(manifest, signer, objects=6, every=4)
    files = {
        bundle.MANIFEST: manifest.read_bytes(),
        bundle.PUBLIC_KEY: public_key_pem(signer.public_key_bytes()),
        "reports/run.md": b"# run\n",
    }
    entries = [
        {"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for n, d in sorted(files.items())
    ]
    index = (
        encode_canonical(
            {
                "kind": bundle.KIND,
                "v": 1,
                "signer": {"fingerprint": fingerprint(signer.public_key_bytes())},
                "files": entries,
            }
        )
        + b"\n"
    )
    return {**files, bundle.INDEX: index, bundle.SIGNATURE: bundle.sign_index(index, signer.sign)}


def _tar(path: Path, members: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return path


def test_a_good_bundle_verifies_and_says_which_key(
    tmp_path: Path, signer: Ed25519FileSigner
) -> None:
    path = _tar(tmp_path / "b.tar.gz", _members(tmp_path, signer))
    report = bundle.verify_bundle(path)
    assert report.ok, report.problem
    assert report.trusted["origin_proven"] is False
    other = tmp_path / "other.pub"
    other.write_bytes(public_key_pem(Ed25519FileSigner.generate().public_key_bytes()))
    refused = bundle.verify_bundle(path, other)
    assert not refused.ok and refused.bad_file == bundle.PUBLIC_KEY


@pytest.mark.parametrize("kind", ["symlink", "parent", "absolute", "duplicate"])
def test_hostile_members_are_refused(tmp_path: Path, signer: Ed25519FileSigner, kind: str) -> None:
    members = _members(tmp_path, signer)
    extra: list[tarfile.TarInfo] = []
    if kind == "symlink":
        link = tarfile.TarInfo("reports/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        extra.append(link)
    elif kind == "parent":
        extra.append(tarfile.TarInfo("../escape"))
    elif kind == "absolute":
        extra.append(tarfile.TarInfo("/tmp/abs"))
    else:
        extra.append(tarfile.TarInfo(bundle.MANIFEST))
    report = bundle.verify_bundle(_tar(tmp_path / "b.tar.gz", members, extra))
    assert not report.ok and report.problem
    assert not (tmp_path.parent / "escape").exists()


def test_re_signed_by_another_key_is_refused_with_the_trusted_key(
    tmp_path: Path, signer: Ed25519FileSigner
) -> None:
    trusted = tmp_path / "trusted.pub"
    trusted.write_bytes(public_key_pem(signer.public_key_bytes()))
    forger = Ed25519FileSigner.generate("forger")
    (tmp_path / "f").mkdir()
    forged = _tar(tmp_path / "f.tar.gz", _members(tmp_path / "f", forger))
    assert bundle.verify_bundle(forged).ok  # self-consistent …
    assert not bundle.verify_bundle(forged, trusted).ok  # … but not by the trusted signer
