"""The rehearsal's evidence on the real stack (issue 17): ``hdh-migrate rehearse`` of
plans/rehearsal.yaml with ``--signing softhsm --finalize --decommission`` signs its manifest
with the SoftHSM2 Ed25519 key, decommissions the rehearsal wave (the source checked with the
Azure SDK directly, a signed record, SOV-15 passes) and ends with an evidence bundle that
``evidence verify`` accepts; altering any file of that bundle fails it, naming the file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from devstack.config import HSM_SIGNING_LABEL
from hdh_migrate.cli.main import run
from hdh_migrate.engine.evidence import create_hsm_signing_key, hsm_signer
from hdh_migrate.integrity.signing import fingerprint, load_public_key
from hdh_migrate.keys.pkcs11 import open_sessions
from tests.integration.junit_cases import LIFECYCLE, step_statuses

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
WAVE = "wave-1-rehearsal"


def _doc_block(marker: str) -> str:
    """A script of docs/manifest.md (the standalone verifiers)."""
    text = (ROOT / "docs" / "manifest.md").read_text(encoding="utf-8")
    block = text.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    return block.strip().removeprefix("```python").removesuffix("```")


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _write(bundle: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _blobs(stack: Any, container: str) -> list[str]:
    client = ContainerClient.from_connection_string(stack.azurite_connection_string, container)
    with client:
        return sorted(b.name for b in client.list_blobs())


def test_the_hsm_signing_key_is_created_once_then_reused(stack: Any, unique_name: str) -> None:
    pin = "${env:HDH_HSM_PIN}"
    # a signer of this process already logged in (PKCS#11 login is per process), as when a
    # rehearsal runs twice in one process: creating a key shares that login
    held = hsm_signer(stack.hsm_module, stack.hsm_token, HSM_SIGNING_LABEL, pin)
    try:
        args = (stack.hsm_module, stack.hsm_token, unique_name, pin)
        made = create_hsm_signing_key(*args, exist_ok=True)
        assert len(made) == 32
        assert create_hsm_signing_key(*args, exist_ok=True) == made  # idempotent: the same key
        signer = hsm_signer(stack.hsm_module, stack.hsm_token, unique_name, pin)
        assert signer.public_key_bytes() == made
        signer.close()  # type: ignore[attr-defined]
    finally:
        held.close()  # type: ignore[attr-defined]


def test_rehearsal_signs_with_the_hsm_decommissions_and_exports_a_verifiable_bundle(
    stack: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work, junit = tmp_path / "work", tmp_path / "junit.xml"
    argv = [
        "rehearse", str(ROOT / "plans" / "rehearsal.yaml"), "--work", str(work),
        "--objects", "2", "--signing", "softhsm", "--finalize", "--decommission",
        "--junit", str(junit),
    ]  # fmt: skip
    sessions = open_sessions()
    code = run(argv)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert open_sessions() == sessions  # every HSM signer and key provider closed after use
    steps = step_statuses(junit)
    assert list(steps) == [
        *LIFECYCLE,
        f"cutover {WAVE}", f"rollback {WAVE}", f"cutover again {WAVE}", f"finalize {WAVE}",
        f"decommission {WAVE}", "evidence-export", "evidence-verify",
    ]  # fmt: skip
    assert set(steps.values()) == {"passed"}
    assert "origin proven (HSM key)" in out and "SOV-15 passes" in out

    # the manifest is signed by the HSM key the rehearsal plan pins
    public = load_public_key(work / "signing.pub")
    plan_text = (work / "rehearsal.yaml").read_text()
    assert f"fingerprint: {fingerprint(public)}" in plan_text
    assert "label: ${env:HDH_HSM_SIGNING_LABEL}" in plan_text
    manifest = work / "state" / "manifest.jsonl"
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    custody = records[0]["signer"]["custody"]
    assert custody["device"]["label"] == stack.hsm_token
    assert custody["attributes"]["never_extractable"] is True
    assert custody["attributes"]["local"] is True

    # decommission: each dataset's selection gone at the source (Azure SDK, not the tool);
    # what stays is exactly what the plan's exclude globs kept out (never copied, never
    # deleted: the dcir dataset excludes *.tmp and _SUCCESS)
    left = _blobs(stack, "rehearsal")
    assert left and all(n.startswith("dcir/") for n in left), left
    assert all(n.endswith((".tmp", "/_SUCCESS")) for n in left), left
    decommissions = [r for r in records if r["type"] == "decommission"]
    assert {r["dataset"] for r in decommissions} == {"rehearsal-referentiels", "rehearsal-dcir"}
    assert all(r["listed_after"] == 0 and r["deleted"] > 0 for r in decommissions)
    copied = {(r["dataset"], r["object_id"]) for r in records if r["type"] == "object"}
    assert sum(r["deleted"] for r in decommissions) == len(copied)
    audit_json = tmp_path / "audit.json"
    assert run(["audit", str(work / "rehearsal.yaml"), "--no-inventory", "--format", "json",
                "--out", str(audit_json)]) == 0  # fmt: skip
    capsys.readouterr()
    findings = json.loads(audit_json.read_text())["findings"]
    assert [f for f in findings if f["rule"] == "SOV-15"] == []

    # the bundle: accepted against the HSM's public key; any file altered, refused by name
    bundle = work / "evidence.tar.gz"
    assert run(["evidence", "verify", str(bundle), "--public-key", str(work / "signing.pub")]) == 0
    shown = capsys.readouterr()
    assert f"trusted key {fingerprint(public)}" in shown.out + shown.err
    members = _members(bundle)
    assert {"index.json", "index.sig", "manifest/manifest.jsonl", "plan/rehearsal.yaml"} <= set(
        members
    )
    for kind in ("run", "verify", "cutover", "rollback", "finalize", "decommission"):
        assert any(n.startswith(f"reports/{kind}-") and n.endswith(".html") for n in members), kind
    assert stack.hsm_pin.encode() not in b"".join(members.values())
    (tmp_path / "verify_manifest.py").write_text(_doc_block("verifier"), "utf-8")
    (tmp_path / "verify_bundle.py").write_text(_doc_block("bundle-verifier"), "utf-8")
    standalone = [sys.executable, str(tmp_path / "verify_bundle.py")]
    done = subprocess.run(
        [*standalone, str(bundle), str(work / "signing.pub")], capture_output=True, text=True
    )
    assert done.returncode == 0 and "files match the signed index" in done.stdout, done.stderr
    broken = tmp_path / "broken.tar.gz"
    for name in sorted(members):
        _write(broken, {**members, name: members[name] + b" "})
        code = run(["evidence", "verify", str(broken), "--public-key", str(work / "signing.pub")])
        err = capsys.readouterr().err
        assert code == 4, (name, err)
        assert name in err, (name, err)
