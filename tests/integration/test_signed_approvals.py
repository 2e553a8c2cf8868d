"""Signed approvals on the real stack (Azurite leases, SeaweedFS, sshd hooks): approvers
sign the wave's statement with their own SSH keys — by OpenSSH's ``ssh-keygen -Y sign``
and by ``hdh-migrate approve`` — and the cutover gate checks signatures, roles and quorum.
A forged, replayed (other freeze epoch) or unlisted signature exits 6."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.integrity import sshsig
from hdh_migrate.journal import DatasetState
from tests.integration.test_cutover import World, _ok, _seed, _teardown, make_world

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH ssh-keygen"),
]
NS = "hdh-migrate-approval"


def _key(tmp: Path, name: str, kind: str = "ed25519") -> Path:
    key = tmp / f"id_{name}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def _pub(key: Path) -> str:
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


@pytest.fixture
def signed_world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    keys = {name: _key(tmp_path, name) for name in ("alice", "bob", "mallory")}
    keys["bob"].unlink()
    keys["bob"] = _key(tmp_path, "bob-ecdsa", "ecdsa")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(
        f'alice@hdh.example namespaces="{NS}" {_pub(keys["alice"])}\n'
        f'bob@hdh.example namespaces="{NS}" {_pub(keys["bob"])}\n'
    )
    gates = (
        f"{{approvals: 2, two_person: true, allowed_signers: '{allowed}', "
        "roles: {rssi: [alice@hdh.example], dpo: ['bob@*']}}"
    )
    world = make_world(stack, tmp_path, unique_name, gates=gates)
    yield world, keys, allowed
    _teardown(world)


def _statement(world: World, out: Path) -> Path:
    _ok(
        world.cli("approve", str(world.plan), "--wave", "w1", "--statement-only", "--out", str(out))
    )
    return out


def _keygen_sign(key: Path, statement: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-f", str(key), "-n", NS, str(statement)],
        check=True,
        capture_output=True,
    )
    return statement.with_name(statement.name + ".sig")


def _tool_sign(world: World, key: Path, out: Path) -> Path:
    _ok(world.cli("approve", str(world.plan), "--wave", "w1", "--key", str(key), "--out", str(out)))
    return out.with_name(out.name + ".sig")


def _cutover(world: World, *sigs: Path) -> subprocess.CompletedProcess[str]:
    args = [a for sig in sigs for a in ("--approval", str(sig))]
    return world.cli("cutover", str(world.plan), "--wave", "w1", *args, "--json")


def test_two_signed_approvals_pass_forged_replayed_unlisted_refused(
    signed_world: Any, tmp_path: Path
) -> None:
    world, keys, allowed = signed_world
    _seed(world, 4)
    _ok(world.cli("run", str(world.plan)))

    # alice signs with ssh-keygen; bob (ecdsa) with hdh-migrate approve
    alice_sig = _keygen_sign(keys["alice"], _statement(world, tmp_path / "alice.json"))
    bob_sig = _tool_sign(world, keys["bob"], tmp_path / "bob.json")
    # our signature verifies with ssh-keygen, against the same allowed_signers
    verify = ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-n", NS]
    done = subprocess.run(
        [*verify, "-I", "bob@hdh.example", "-s", str(bob_sig)],
        input=(tmp_path / "bob.json").read_bytes(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    # a typed name is refused on a wave that takes signatures
    result = world.cli("cutover", str(world.plan), "--wave", "w1", "--approve", "alice")
    assert result.returncode == 2 and "signed approvals only" in result.stderr, result.stderr

    # out of the list: mallory signs a genuine statement with her own key
    mallory_sig = _keygen_sign(keys["mallory"], _statement(world, tmp_path / "mallory.json"))
    result = _cutover(world, mallory_sig)
    assert result.returncode == 6, result.stderr
    assert "not in allowed_signers" in result.stderr

    # forged: alice's signature over a statement edited afterwards (another wave)
    forged = tmp_path / "forged.json"
    forged.write_bytes((tmp_path / "alice.json").read_bytes().replace(b'"w1"', b'"w2"'))
    forged.with_name("forged.json.sig").write_text(alice_sig.read_text())
    result = _cutover(world, forged.with_name("forged.json.sig"))
    assert result.returncode == 6 and "does not verify" in result.stderr, result.stderr

    # one valid approval: quorum and roles refuse, nothing frozen
    result = _cutover(world, alice_sig)
    assert result.returncode == 6, result.stderr
    assert "gate approvals refused: 1 of 2" in result.stderr
    assert "roles" in result.stderr
    assert world.state_of() is DatasetState.VERIFIED

    # alice (already recorded) and bob: quorum, two-person and roles pass, the wave switches
    result = _cutover(world, alice_sig, bob_sig)
    _ok(result)
    report = json.loads(result.stdout)
    gates = {g["gate"]: g for g in report["gates"]}
    assert gates["approvals"]["passed"] and gates["roles"]["passed"], gates
    assert world.state_of() is DatasetState.SWITCHED
    records = [json.loads(x) for x in (world.state / "manifest.jsonl").read_text().splitlines()]
    approvals = [r for r in records if r.get("event") == "approval"]
    assert sorted(r["approver"] for r in approvals) == ["alice@hdh.example", "bob@hdh.example"]
    for record in approvals:  # each re-verifies offline from the manifest alone
        evidence = record["signature"]
        parsed = sshsig.parse_signature(evidence["armored"])
        statement = json.dumps(
            evidence["statement"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        sshsig.check_signature(parsed, statement.encode() + b"\n", NS)
        assert parsed.fingerprint == evidence["key_fingerprint"]

    # rollback: a new freeze epoch; the old signatures are replays
    _ok(world.cli("rollback", str(world.plan), "--wave", "w1"))
    result = _cutover(world, alice_sig, bob_sig)
    assert result.returncode == 6, result.stderr
    assert "replayed: signed for freeze epoch 0" in result.stderr
    fresh_a = _keygen_sign(keys["alice"], _statement(world, tmp_path / "alice2.json"))
    fresh_b = _tool_sign(world, keys["bob"], tmp_path / "bob2.json")
    _ok(_cutover(world, fresh_a, fresh_b))
    assert world.state_of() is DatasetState.SWITCHED
    _ok(
        world.cli(
            "manifest",
            "verify",
            str(world.state / "manifest.jsonl"),
            "--public-key",
            str(world.state / "manifest.pub"),
        )
    )
