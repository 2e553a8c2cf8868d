"""Cutover and rollback on the real stack: Azurite (source, blob leases), SeaweedFS
(target), sshd (switch and rollback hooks). Every test has its own container, bucket,
state directory and effect file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import PreconditionFailedError
from hdh_migrate.journal import DatasetState, ItemState, Journal

pytestmark = pytest.mark.stack

PLAN = """\
version: 1
name: {name}
policy: {{profile: rehearsal, rehearsal: true, allowed_regions: [local]}}
sources:
  azurite:
    kind: azure_blob
    connection_string: ${{env:AZURE_STORAGE_CONNECTION_STRING}}
    container: {name}
targets:
  seaweedfs:
    kind: s3
    provider: seaweedfs
    region: local
    endpoint: {s3}
    bucket: {name}
    credentials:
      access_key: ${{env:HDH_S3_ACCESS_KEY}}
      secret_key: ${{env:HDH_S3_SECRET_KEY}}
keys:
  kek: {{kind: file, path: "{key}", create: true}}
defaults: {{key: kek, verify: full, concurrency: 4}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - name: ds
        source: azurite
        prefix: data/
        target: seaweedfs
        target_prefix: enc/
    cutover:
      freeze: {{strategy: leases}}
      gates: {gates}
      switch:
        - ssh: &ssh
            host: 127.0.0.1
            port: {ssh_port}
            user: ${{env:HDH_SFTP_USER}}
            key_file: ${{env:HDH_SFTP_KEY}}
            known_hosts: ${{env:HDH_SFTP_KNOWN_HOSTS}}
          run: printf '%s %s %s\\n' "$HDH_TARGET_ENDPOINT" "$HDH_TARGET_BUCKET" "$HDH_WAVE" > {effect}
          timeout: 30s
{extra_switch}      rollback:
        - ssh: *ssh
          run: printf 'azure\\n' > {effect}
          timeout: 30s
  - name: w2
    depends_on: [w1]
    datasets:
      - name: ds2
        source: azurite
        prefix: other/
        target: seaweedfs
        target_prefix: other/
    cutover:
      freeze: {{strategy: leases}}
"""


@dataclass
class World:
    name: str
    plan: Path
    state: Path
    effect: Path
    source: Any
    target: Any

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "hdh_migrate", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "hdh_migrate", *args]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def put(self, key: str, data: bytes) -> None:
        self.source.write(key, io.BytesIO(data), len(data))

    def journal(self) -> Journal:
        return Journal(self.state / "journal.sqlite")

    def state_of(self, dataset: str = "ds") -> DatasetState | None:
        with self.journal() as journal:
            return journal.dataset_state(dataset)

    def leased(self) -> dict[str, str]:
        return {i.key: i.extra.get("lease_state", "") for i in self.source.list("data/")}


def make_world(
    stack: Any, tmp_path: Path, name: str, gates: str = "{approvals: 1}", extra_switch: str = ""
) -> World:
    effect = Path(os.path.expanduser(f"~{stack.sftp_user}")) / f"effect-{name}.txt"
    plan = tmp_path / "plan.yaml"
    state = tmp_path / "state"
    plan.write_text(
        PLAN.format(
            name=name,
            s3=stack.s3_endpoint,
            key=tmp_path / "kek.key",
            state=state,
            gates=gates,
            effect=effect.name,
            extra_switch=extra_switch,
            ssh_port=stack.sftp_port,
        )
    )
    source = open_backend(
        "azure_blob", {"container": name, "connection_string": stack.azurite_connection_string}
    )
    source.ensure_container()  # type: ignore[attr-defined]
    target = open_backend(
        "s3",
        {
            "endpoint_url": stack.s3_endpoint,
            "region": "us-east-1",
            "bucket": name,
            "access_key": stack.s3_access_key,
            "secret_key": stack.s3_secret_key,
        },
    )
    target.ensure_bucket()  # type: ignore[attr-defined]
    return World(name, plan, state, effect, source, target)


@pytest.fixture
def world(stack: Any, tmp_path: Path, unique_name: str) -> Any:
    made = make_world(stack, tmp_path, unique_name)
    yield made
    _teardown(made)


def _teardown(world: World) -> None:
    for info in world.source.list(""):
        if info.extra.get("lease_state") == "leased":
            world.source.break_lease(info.key)
    world.source.delete_container()
    world.target.delete_bucket(force=True)
    world.effect.unlink(missing_ok=True)


def _seed(world: World, count: int, size: int = 1000) -> dict[str, bytes]:
    files = {f"data/f{i:04d}.bin": os.urandom(size) for i in range(count)}
    for key, data in files.items():
        world.put(key, data)
    return files


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def _manifest_records(world: World) -> list[dict[str, Any]]:
    lines = (world.state / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_delta_freeze_switch_over_ssh_then_rollback(world: World) -> None:
    files = _seed(world, 6)
    _ok(world.cli("run", str(world.plan)))
    # the copy phase is over; the source keeps changing until the cutover
    world.put("data/late-new.bin", b"created after the run")
    world.put("data/f0000.bin", b"changed after the run")
    world.source.delete("data/f0001.bin")

    result = world.cli("cutover", str(world.plan), "--wave", "w1", "--approve", "alice", "--json")
    _ok(result)
    report = json.loads(result.stdout)
    delta = next(s for s in report["steps"] if s["step"] == "delta")
    assert (delta["created"], delta["changed"], delta["deleted"]) == (1, 1, 1)
    assert delta["copied"] == 2
    assert report["datasets"] == {"ds": "switched"}
    assert Path(report["report_files"][1]).read_text().startswith("# hdh-migrate cutover")

    with world.journal() as journal:
        new = journal.get("ds", "data/late-new.bin")
        changed = journal.get("ds", "data/f0000.bin")
        gone = journal.get("ds", "data/f0001.bin")
        leases = list(journal.leases("ds"))
        assert [a.name for a in journal.approvals("w1")] == ["alice"]
        states = [t.to_state for t in journal.transitions("ds")]
    assert new is not None and new.state is ItemState.VERIFIED
    assert new.plaintext_sha256 == hashlib.sha256(b"created after the run").hexdigest()
    assert changed is not None and changed.state is ItemState.VERIFIED
    assert changed.plaintext_sha256 == hashlib.sha256(b"changed after the run").hexdigest()
    assert gone is not None and gone.state is ItemState.SKIPPED
    assert gone.reason == "deleted at source (cutover delta)"
    assert "enc/f0001.bin" in {i.key for i in world.target.list("enc/")}  # kept, recorded
    assert len(leases) == len(files)  # 6 blobs: 5 left + 1 created, all leased
    assert states[-4:] == [
        DatasetState.FROZEN,
        DatasetState.DELTA_SYNCED,
        DatasetState.FINAL_VERIFIED,
        DatasetState.SWITCHED,
    ]
    records = _manifest_records(world)
    cut = [r for r in records if r.get("type") == "cutover"]
    assert [r["to_state"] for r in cut if r.get("event") is None] == [
        "frozen",
        "delta_synced",
        "final_verified",
        "switched",
    ]
    deleted = [r for r in cut if r.get("event") == "deleted_at_source"]
    assert [r["source_key"] for r in deleted] == ["data/f0001.bin"]
    switched = cut[-1]
    assert [a["name"] for a in switched["detail"]["approvals"]] == ["alice"]

    # the switch hook ran over SSH: its effect names the new endpoint
    stack_endpoint = report["hooks"][0]
    assert stack_endpoint["where"].startswith("ssh ")
    effect = world.effect.read_text().split()
    assert effect[1:] == [world.name, "w1"] and effect[0].startswith("http://127.0.0.1:")

    # frozen: writes and deletes at the source fail
    with pytest.raises(PreconditionFailedError):
        world.put("data/f0002.bin", b"overwrite attempt")
    with pytest.raises(PreconditionFailedError):
        world.source.delete("data/f0003.bin")

    _ok(world.cli("rollback", str(world.plan), "--wave", "w1"))
    assert world.state_of() is DatasetState.ROLLED_BACK
    assert world.effect.read_text() == "azure\n"
    world.put("data/f0002.bin", b"writable again")
    world.source.delete("data/f0003.bin")
    assert set(world.leased().values()) == {"available"}
    with world.journal() as journal:
        assert list(journal.leases("ds")) == []
    assert _manifest_records(world)[-2]["type"] in ("rollback", "checkpoint")
    _ok(world.cli("manifest", "verify", str(world.state / "manifest.jsonl")))

    # a rolled-back wave cannot be finalized; approvals given before a rollback lapse
    result = world.cli("finalize", str(world.plan), "--wave", "w1", "--yes")
    assert result.returncode == 2, result.stderr
    result = world.cli("cutover", str(world.plan), "--wave", "w1")
    assert result.returncode == 6 and "gate approvals refused" in result.stderr, result.stderr
    _ok(world.cli("cutover", str(world.plan), "--wave", "w1", "--approve", "bob"))
    assert world.state_of() is DatasetState.SWITCHED
    assert set(world.leased().values()) == {"leased"}

    # finalize: the point of no return, confirmed or refused
    result = world.cli("finalize", str(world.plan), "--wave", "w1")
    assert result.returncode == 2 and "--yes" in result.stderr, result.stderr
    _ok(world.cli("finalize", str(world.plan), "--wave", "w1", "--yes"))
    assert world.state_of() is DatasetState.FINALIZED
    result = world.cli("rollback", str(world.plan), "--wave", "w1")
    assert result.returncode == 2 and "point of no return" in result.stderr, result.stderr
    _ok(world.cli("manifest", "verify", str(world.state / "manifest.jsonl")))
