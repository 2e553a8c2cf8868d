"""The auditor's evidence pack end to end on the stack: a manifest signed by a SoftHSM2
Ed25519 key, a cutover approved by an SSH signature, finalize, decommission, then
``evidence export`` → ``evidence verify`` (and the standalone verifier of
docs/manifest.md); altering, removing or adding any file of the bundle fails naming it."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.integrity.bundle import verify_bundle
from tests.integration.test_cutover import _ok, _seed, _teardown, make_world

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH ssh-keygen"),
]
DOC = Path(__file__).resolve().parents[2] / "docs" / "manifest.md"


def _block(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    block = text.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    return block.strip().removeprefix("```python").removesuffix("```")


@pytest.fixture
def pack(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    key = tmp_path / "id_alice"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice@hdh.example {key.with_suffix('.pub').read_text()}")
    gates = f"{{approvals: 1, allowed_signers: '{allowed}'}}"
    world = make_world(stack, tmp_path, unique_name, gates=gates)
    pub = tmp_path / "hsm.pub"
    made = world.cli(
        "manifest", "hsm-keygen", "--module", stack.hsm_module, "--token", stack.hsm_token,
        "--label", unique_name, "--pin", "${env:HDH_HSM_PIN}", "--out", str(pub),
    )  # fmt: skip
    _ok(made)
    signing = (
        f"signing:\n  kind: pkcs11\n  module: {stack.hsm_module}\n  token: {stack.hsm_token}\n"
        f"  label: {unique_name}\n  pin: ${{env:HDH_HSM_PIN}}\n"
    )
    text = world.plan.read_text()
    world.plan.write_text(text.replace("waves:\n", signing + "waves:\n", 1))
    yield world, key, pub
    _teardown(world)


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _write(bundle: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_hsm_signed_approved_decommissioned_wave_exports_a_bundle_that_verifies(
    pack: Any, stack: Any, tmp_path: Path
) -> None:
    world, key, pub = pack
    _seed(world, 5)
    _ok(world.cli("run", str(world.plan)))
    statement = tmp_path / "alice.json"
    plan = str(world.plan)
    _ok(world.cli("approve", plan, "--wave", "w1", "--key", str(key), "--out", str(statement)))
    _ok(world.cli("cutover", str(world.plan), "--wave", "w1", "--approval", f"{statement}.sig"))
    _ok(world.cli("finalize", str(world.plan), "--wave", "w1", "--yes"))
    _ok(world.cli("decommission", str(world.plan), "--wave", "w1"))

    bundle = tmp_path / "bundle.tar.gz"
    _ok(world.cli("evidence", "export", str(world.plan), "--out", str(bundle)))
    members = _members(bundle)
    names = set(members)
    assert {"index.json", "index.sig", "manifest/manifest.jsonl", "manifest/manifest.pub"} <= names
    assert "checkpoints/latest.checkpoint" in names and "keys/allowed_signers/w1" in names
    assert "policy/findings.json" in names and any(n.startswith("reports/") for n in names)
    approvals = sorted(n for n in names if n.startswith("approvals/w1/"))
    assert len(approvals) == 2 and approvals[1].endswith(".json.sig")
    assert stack.hsm_pin.encode() not in b"".join(members.values())
    records = [json.loads(x) for x in members["manifest/manifest.jsonl"].splitlines()]
    assert records[0]["signer"]["custody"]["attributes"]["never_extractable"] is True
    assert any(r["type"] == "decommission" for r in records)

    done = world.cli("evidence", "verify", str(bundle), "--public-key", str(pub), "--json")
    _ok(done)
    report = json.loads(done.stdout)
    assert report["trusted"]["origin_proven"] and "1 signed approval(s)" in report["checks"]
    plain = world.cli("evidence", "verify", str(bundle))
    _ok(plain)
    assert "origin NOT proven" in plain.stdout

    # the bundled approval verifies with OpenSSH itself
    folder = tmp_path / "x"
    for name, data in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    check = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(folder / "keys/allowed_signers/w1"),
         "-I", "alice@hdh.example", "-n", "hdh-migrate-approval",
         "-s", str(folder / approvals[1])],
        input=(folder / approvals[0]).read_bytes(), capture_output=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr

    # the standalone verifier of docs/manifest.md
    (tmp_path / "verify_manifest.py").write_text(_block("verifier"), encoding="utf-8")
    script = tmp_path / "verify_bundle.py"
    script.write_text(_block("bundle-verifier"), "utf-8")
    standalone = [sys.executable, str(script)]
    done = subprocess.run([*standalone, str(bundle), str(pub)], capture_output=True, text=True)
    assert done.returncode == 0 and "files match the signed index" in done.stdout, done.stderr

    # any file altered, removed or added: refused, naming it (CLI: exit 4)
    for name in sorted(members):
        altered = dict(members)
        altered[name] = members[name] + b" "
        broken = tmp_path / "broken.tar.gz"
        _write(broken, altered)
        result = verify_bundle(broken)
        assert not result.ok, name
        assert result.bad_file == name, (name, result.problem)
        if name.startswith("reports/"):
            done = subprocess.run(
                [*standalone, str(broken), str(pub)], capture_output=True, text=True
            )
            assert done.returncode != 0 and name in done.stderr
    flipped = dict(members)
    flipped["index.json"] = members["index.json"].replace(b'"v":1', b'"v":2')
    _write(tmp_path / "flipped.tar.gz", flipped)
    assert "signature" in (verify_bundle(tmp_path / "flipped.tar.gz").problem or "")
    dropped = {n: d for n, d in members.items() if n != "policy/findings.json"}
    _write(tmp_path / "dropped.tar.gz", dropped)
    assert verify_bundle(tmp_path / "dropped.tar.gz").bad_file == "policy/findings.json"
    _write(tmp_path / "added.tar.gz", {**members, "reports/extra.md": b"x"})
    assert verify_bundle(tmp_path / "added.tar.gz").bad_file == "reports/extra.md"
    cli = world.cli("evidence", "verify", str(tmp_path / "added.tar.gz"))
    assert cli.returncode == 4 and "reports/extra.md" in cli.stderr, cli.stderr
