"""Issue 4 acceptance: ``keys rotate`` over 1,000 objects in SeaweedFS, from a file KEK to
the devstack HSM's non-extractable KEK (PKCS#11).

Seeded from a local directory through ``hdh-migrate run``; then a rotation killed with
SIGKILL midway, a re-run that completes it, a second re-run that rotates nothing. Every
object body (ETag and SHA-256 of the bytes) is unchanged; every object verifies in full and
restores through a plan naming the new KEK; the tool refuses the old KEK; the manifest
verifies and holds exactly one ``rewrap`` record per object.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.registry import open_spec
from hdh_migrate.cli.main import run
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.plan import load_plan
from hdh_migrate.stages.envelopes import SIDECAR_PREFIX

pytestmark = [pytest.mark.stack, pytest.mark.slow]
OBJECTS = int(os.environ.get("HDH_ROTATE_OBJECTS", "1000"))
KILL_AFTER = OBJECTS // 3
HDH = Path(sys.executable).with_name("hdh-migrate")

PLAN = """
version: 1
name: rotate-{bucket}
policy: {{profile: rehearsal, rehearsal: true, allowed_regions: [local]}}
sources:
  disk: {{kind: local, path: "{src}"}}
targets:
  seaweedfs:
    kind: s3
    provider: seaweedfs
    region: local
    endpoint: ${{env:HDH_S3_ENDPOINT}}  # the stack under test, port offset included
    bucket: {bucket}
    credentials:
      access_key: "${{env:HDH_S3_ACCESS_KEY}}"
      secret_key: "${{env:HDH_S3_SECRET_KEY}}"
keys:
  file-kek: {{kind: file, path: "{tmp}/k1.key", create: true}}
  hsm-kek:
    kind: pkcs11
    module: ${{env:HDH_HSM_MODULE}}
    token: ${{env:HDH_HSM_TOKEN}}
    label: ${{env:HDH_HSM_KEK_LABEL}}
    pin: ${{env:HDH_HSM_PIN}}
defaults: {{key: {key}, verify: full, concurrency: 8}}
state_dir: "{tmp}/state"
executor: {{kind: threads, workers: 8}}
waves:
  - name: w1
    datasets:
      - name: ds
        source: disk
        prefix: data/
        target: seaweedfs
        target_prefix: "snds/rot ation/"
"""


def write_plan(tmp: Path, bucket: str, key: str, name: str) -> Path:
    path = tmp / name
    path.write_text(PLAN.format(bucket=bucket, src=tmp / "src", tmp=tmp, key=key))
    return path


def seed(tmp: Path) -> dict[str, bytes]:
    files = {}
    for i in range(OBJECTS):
        rel = f"d{i % 10}/é {i:04d}.bin" if i % 7 == 0 else f"d{i % 10}/f{i:04d}.bin"
        data = os.urandom(64 + (i * 97) % 3000)
        path = tmp / "src" / "data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = data
    return files


def snapshot(backend: Any) -> dict[str, tuple[str | None, str]]:
    out = {}
    for info in backend.list("snds/"):
        with backend.open_read(info.key) as stream:
            out[info.key] = (info.etag, hashlib.sha256(stream.read()).hexdigest())
    return out


def last_event(text: str, name: str) -> dict[str, Any]:
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == name][-1]


def rotate_and_kill(plan: Path, env: dict[str, str]) -> int:
    """Start a rotation, SIGKILL it after KILL_AFTER rotated objects; return that count."""
    cmd = [str(HDH), "keys", "rotate", str(plan), "--from", "file-kek", "--to", "hsm-kek"]
    proc = subprocess.Popen([*cmd, "--json"], stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        seen += '"object.rotated"' in line
        if seen >= KILL_AFTER:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "the rotation ended before it could be killed"
    return seen


def test_rotate_1000_objects_to_the_hsm_kek(
    stack: Any, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = seed(tmp_path)
    plan_k1 = write_plan(tmp_path, unique_name, "file-kek", "plan-k1.yaml")
    plan_k2 = write_plan(tmp_path, unique_name, "hsm-kek", "plan-k2.yaml")
    spec = target_spec(load_plan(plan_k1), "seaweedfs")
    backend = open_spec(spec.backend_spec)
    backend.ensure_bucket()  # type: ignore[attr-defined]
    assert run(["run", str(plan_k1)]) == 0
    before = snapshot(backend)
    assert len(before) == OBJECTS

    killed_after = rotate_and_kill(plan_k1, dict(os.environ))
    capsys.readouterr()
    started = time.monotonic()
    assert (
        run(["keys", "rotate", str(plan_k1), "--from", "file-kek", "--to", "hsm-kek", "--json"])
        == 0
    )
    resumed = last_event(capsys.readouterr().out, "rotate.done")
    elapsed = time.monotonic() - started
    assert resumed["failed"] == [] and resumed["rotated"] + resumed["skipped"] == OBJECTS
    assert resumed["skipped"] >= killed_after and resumed["rotated"] > 0
    with capsys.disabled():
        rate = resumed["rotated"] / elapsed
        print(f"\nresumed rotation: {resumed['rotated']} rotated in {elapsed:.1f}s ({rate:.0f}/s)")

    assert (
        run(["keys", "rotate", str(plan_k1), "--from", "file-kek", "--to", "hsm-kek", "--json"])
        == 0
    )
    again = last_event(capsys.readouterr().out, "rotate.done")
    assert (again["rotated"], again["skipped"], again["recorded"]) == (0, OBJECTS, 0)
    assert run(["keys", "rotate", str(plan_k1), "--from", "file-kek", "--to", "hsm-kek"]) == 0
    human = capsys.readouterr().out
    assert f"rotated 0, skipped {OBJECTS}" in human and "use key 'hsm-kek'" in human

    assert snapshot(backend) == before  # every body: same ETag, same bytes
    sidecars = [i.key for i in backend.list(SIDECAR_PREFIX)]
    assert len(sidecars) == OBJECTS
    manifest = tmp_path / "state" / "manifest.jsonl"
    assert run(["manifest", "verify", str(manifest), "--trust-adjacent-key"]) == 0
    records = [json.loads(x) for x in manifest.read_text().splitlines()]
    rewraps = [r for r in records if r.get("type") == "rewrap"]
    assert len(rewraps) == OBJECTS == len({r["object_id"] for r in rewraps})
    assert {r["to_kek_ref"] for r in rewraps} == {
        f"pkcs11:token={stack.hsm_token};label={stack.hsm_kek_label}"
    }

    # the new KEK opens everything; restore a sample byte for byte
    assert run(["verify", str(plan_k2), "--mode", "full"]) == 0
    out = tmp_path / "restored"
    assert (
        run(["restore", str(plan_k2), "--dataset", "ds", "--prefix", "d3/", "--to", str(out)]) == 0
    )
    restored = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.bin")}
    assert restored == {k: v for k, v in files.items() if k.startswith("d3/")}

    # the old KEK is refused by every reader, in one line naming the sidecar
    url = f"s3://{unique_name}/snds/rot ation/d0/é 0000.bin"
    via = ["--plan", str(plan_k1)]
    capsys.readouterr()
    assert run(["decrypt", url, "-o", str(tmp_path / "k1.out"), *via, "--key", "file-kek"]) == 7
    err = capsys.readouterr().err
    assert "sidecar .hdh-envelopes/snds/rot ation/d0/é 0000.bin.hdhk" in err
    assert not (tmp_path / "k1.out").exists()
    assert run(["decrypt", url, "-o", str(tmp_path / "k2.out"), *via, "--key", "hsm-kek"]) == 0
    assert (tmp_path / "k2.out").read_bytes() == files["d0/é 0000.bin"]
    assert run(["verify", str(plan_k1), "--mode", "header"]) == 7  # the plan names K1: stop
    assert "name the new key in the plan" in capsys.readouterr().err
    assert run(["verify", str(plan_k2), "--mode", "header"]) == 0  # nothing was marked failed
    backend.close()
