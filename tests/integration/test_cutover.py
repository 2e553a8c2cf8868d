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

from devstack.plans import plan_head
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import PreconditionFailedError
from hdh_migrate.journal import DatasetState, ItemState, Journal

pytestmark = pytest.mark.stack

WAVES = """\
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
          run: echo "$HDH_TARGET_ENDPOINT $HDH_TARGET_BUCKET $HDH_WAVE" > {effect}
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
    head = plan_head(
        name=name, s3_endpoint=stack.s3_endpoint, key=tmp_path / "kek.key", state=state
    )
    waves = WAVES.format(
        gates=gates, effect=effect.name, extra_switch=extra_switch, ssh_port=stack.sftp_port
    )
    plan.write_text(head + waves)
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
    approval = next(r for r in cut if r.get("event") == "approval")
    assert (approval["approver"], approval["from_state"]) == ("alice", "verified")
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
    _ok(
        world.cli("manifest", "verify", str(world.state / "manifest.jsonl"), "--trust-adjacent-key")
    )

    # a rolled-back wave cannot be finalized; approvals given before a rollback lapse
    result = world.cli("finalize", str(world.plan), "--wave", "w1", "--yes")
    assert result.returncode == 2, result.stderr
    result = world.cli("cutover", str(world.plan), "--wave", "w1")
    assert result.returncode == 6 and "gate approvals refused" in result.stderr, result.stderr
    _ok(world.cli("cutover", str(world.plan), "--wave", "w1", "--approve", "alice"))
    with world.journal() as journal:
        assert [a.name for a in journal.approvals("w1#1")] == ["alice"]  # epoch 1
    assert world.state_of() is DatasetState.SWITCHED
    assert set(world.leased().values()) == {"leased"}

    # finalize: the point of no return, confirmed or refused
    result = world.cli("finalize", str(world.plan), "--wave", "w1")
    assert result.returncode == 2 and "--yes" in result.stderr, result.stderr
    _ok(world.cli("finalize", str(world.plan), "--wave", "w1", "--yes"))
    assert world.state_of() is DatasetState.FINALIZED
    result = world.cli("rollback", str(world.plan), "--wave", "w1")
    assert result.returncode == 2 and "point of no return" in result.stderr, result.stderr
    _ok(
        world.cli("manifest", "verify", str(world.state / "manifest.jsonl"), "--trust-adjacent-key")
    )


def _window_closed_now() -> str:
    """A one-hour window starting two hours from now (UTC): closed now."""
    start = datetime.now(UTC) + timedelta(hours=2)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M} UTC"


def test_failing_gates_refuse_with_exit_6_naming_the_gate(
    stack: Any, tmp_path: Path, unique_name: str
) -> None:
    gates = f"{{approvals: 2, two_person: true, window: '{_window_closed_now()}'}}"
    world = make_world(stack, tmp_path, unique_name, gates=gates)
    try:
        _seed(world, 3)
        _ok(world.cli("run", str(world.plan)))
        plan = str(world.plan)

        result = world.cli("cutover", plan, "--wave", "w2")
        assert result.returncode == 6, result.stderr
        assert "gate depends_on refused: wave 'w1' is not finalized" in result.stderr

        result = world.cli("cutover", plan, "--wave", "w1", "--approve", "alice")
        assert result.returncode == 6, result.stderr
        assert "gate approvals refused: 1 of 2 approval(s)" in result.stderr
        assert "--approve NAME" in result.stderr

        me = os.environ.get("USER") or "root"
        result = world.cli("cutover", plan, "--wave", "w1", "--approve", me)
        assert result.returncode == 6, result.stderr
        assert "gate two_person refused" in result.stderr

        result = world.cli("cutover", plan, "--wave", "w1", "--approve", "bob")
        assert result.returncode == 6, result.stderr
        assert "gate window refused" in result.stderr and "next opening" in result.stderr
        # refused before anything was touched: not frozen, no lease, no hook effect
        assert world.state_of() is DatasetState.VERIFIED
        assert set(world.leased().values()) == {"available"}
        assert not world.effect.exists()
        with world.journal() as journal:
            assert sorted(a.name for a in journal.approvals("w1")) == sorted(["alice", me, "bob"])
    finally:
        _teardown(world)


def test_residual_gate_refuses_after_freeze_then_rollback_unfreezes(
    stack: Any, tmp_path: Path, unique_name: str
) -> None:
    # leases do not stop the creation of new blobs: one created while frozen (between the
    # delta and the final pass) is the residual delta, synced but refused by the gate.
    world = make_world(stack, tmp_path, unique_name, gates="{max_delta_objects: 0}")
    try:
        _seed(world, 3)
        _ok(world.cli("run", str(world.plan)))
        from hdh_migrate.engine.cutover import WaveCutover
        from hdh_migrate.engine.run.session import migration

        with migration(world.plan) as job:
            engine = WaveCutover(job, operator="tester")
            original = engine.delta.final_pass

            def sneaky(ctx: Any) -> None:
                world.put("data/created-while-frozen.bin", b"a leak in the freeze")
                original(ctx)

            engine.delta.final_pass = sneaky  # type: ignore[method-assign]
            with pytest.raises(Exception) as raised:
                engine.cutover("w1")
        assert type(raised.value).__name__ == "GateRefusedError"
        assert "gate max_delta_objects refused: 1 object(s) changed" in str(raised.value)
        assert world.state_of() is DatasetState.FINAL_VERIFIED
        with world.journal() as journal:
            leak = journal.get("ds", "data/created-while-frozen.bin")
        assert leak is not None and leak.state is ItemState.VERIFIED  # synced all the same
        _ok(world.cli("rollback", str(world.plan), "--wave", "w1"))
        assert set(world.leased().values()) == {"available"}
        world.put("data/f0000.bin", b"writable again")
    finally:
        _teardown(world)


@pytest.mark.slow
def test_kill_9_while_leasing_then_rerun_ends_consistent(
    stack: Any, tmp_path: Path, unique_name: str
) -> None:
    world = make_world(stack, tmp_path, unique_name, gates="{approvals: 0}")
    try:
        count = 400
        _seed(world, count, size=10)
        _ok(world.cli("run", str(world.plan)))
        process = world.spawn("cutover", str(world.plan), "--wave", "w1")
        deadline = time.monotonic() + 120
        recorded = 0
        while time.monotonic() < deadline and process.poll() is None:
            with world.journal() as journal:
                recorded = sum(1 for _ in journal.leases("ds"))
            if recorded:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the cutover finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
        with world.journal() as journal:
            recorded = sum(1 for _ in journal.leases("ds"))
            assert journal.dataset_state("ds") is DatasetState.VERIFIED
            assert journal.integrity_check() == "ok"
        leased_at_kill = sum(1 for s in world.leased().values() if s == "leased")
        assert 0 < recorded <= leased_at_kill <= count

        started = time.monotonic()
        _ok(world.cli("cutover", str(world.plan), "--wave", "w1"))
        rerun = time.monotonic() - started
        assert world.state_of() is DatasetState.SWITCHED
        with world.journal() as journal:
            leases = list(journal.leases("ds"))
        assert len(leases) == count and len({lease.key for lease in leases}) == count
        assert set(world.leased().values()) == {"leased"}
        _ok(
            world.cli(
                "manifest", "verify", str(world.state / "manifest.jsonl"), "--trust-adjacent-key"
            )
        )

        # kill -9 the rollback too, once it has released some leases, then re-run it
        process = world.spawn("rollback", str(world.plan), "--wave", "w1")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            with world.journal() as journal:
                if sum(1 for _ in journal.leases("ds")) < count:
                    break
            time.sleep(0.02)
        assert process.poll() is None, "the rollback finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert world.state_of() is DatasetState.SWITCHED  # not rolled back yet
        with world.journal() as journal:
            assert 0 < sum(1 for _ in journal.leases("ds")) < count
        _ok(world.cli("rollback", str(world.plan), "--wave", "w1"))
        assert world.state_of() is DatasetState.ROLLED_BACK
        with world.journal() as journal:
            assert list(journal.leases("ds")) == []
            released = list(journal.leases("ds", active_only=False))
        assert len(released) == count and all(lease.released_at for lease in released)
        assert set(world.leased().values()) == {"available"}
        world.put("data/f0000.bin", b"writable again")
        _ok(
            world.cli(
                "manifest", "verify", str(world.state / "manifest.jsonl"), "--trust-adjacent-key"
            )
        )
        print(
            f"\nkill -9 test: {count} blobs, {recorded} leases journaled at the kill, "
            f"re-run cutover {rerun:.2f} s"
        )
    finally:
        _teardown(world)


def test_kill_9_during_a_slow_switch_hook_then_rerun(
    stack: Any, tmp_path: Path, unique_name: str
) -> None:
    marker = tmp_path / "hook-started"
    slow = f"        - run: touch {marker}; sleep 20\n          timeout: 60s\n"
    world = make_world(stack, tmp_path, unique_name, gates="{approvals: 0}", extra_switch=slow)
    try:
        _seed(world, 5)
        _ok(world.cli("run", str(world.plan)))
        process = world.spawn("cutover", str(world.plan), "--wave", "w1")
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert marker.exists() and process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert world.state_of() is DatasetState.FINAL_VERIFIED  # the switch had not completed
        assert world.effect.exists()  # the first (SSH) hook had run
        # the re-run redoes the hooks (idempotent by contract) and completes the switch;
        # make the slow hook quick by removing it from the plan
        world.plan.write_text(world.plan.read_text().replace(slow, ""))
        _ok(world.cli("cutover", str(world.plan), "--wave", "w1"))
        assert world.state_of() is DatasetState.SWITCHED
        _ok(world.cli("rollback", str(world.plan), "--wave", "w1"))
        assert world.state_of() is DatasetState.ROLLED_BACK
        assert world.effect.read_text() == "azure\n"
        _ok(
            world.cli(
                "manifest", "verify", str(world.state / "manifest.jsonl"), "--trust-adjacent-key"
            )
        )
    finally:
        _teardown(world)


def test_ssh_hook_refuses_a_host_key_missing_from_known_hosts(stack: Any, tmp_path: Path) -> None:
    from hdh_migrate.engine.hooks import HookRunner
    from hdh_migrate.errors import AuthError
    from hdh_migrate.plan.cutover import Hook

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    effect = tmp_path / "never"
    ssh = {
        "host": "127.0.0.1",
        "port": stack.sftp_port,
        "user": stack.sftp_user,
        "key_file": str(stack.sftp_key_path),
        "known_hosts": str(empty),
    }
    hook = Hook.model_validate({"run": f"touch {effect}", "ssh": ssh, "timeout": 10})
    with pytest.raises(AuthError, match="is not in"):
        HookRunner(backoff=0).run(hook, {}, "switch[1/1]")
    assert empty.read_text() == ""  # never added
    good = Hook.model_validate(
        {"run": "echo $HDH_WAVE; exit 7", "ssh": ssh | {"known_hosts": str(stack.sftp_known_hosts)}}
    )
    result = HookRunner(backoff=0).run(good, {"HDH_WAVE": "w 1; not a command"}, "x")
    assert (result.exit_status, result.output) == (7, "w 1; not a command\n")


def test_a_sampled_wave_is_refused_until_a_full_verify_when_full_readback_is_required(
    stack: Any, tmp_path: Path, unique_name: str
) -> None:
    """Issue 15: a ``sample:P%`` wave counts as sampled in the run report and the gate, and
    ``gates.require_full_readback`` refuses the switch until ``verify --mode full``."""
    gates = "{approvals: 0, require_full_readback: true}"
    world = make_world(stack, tmp_path, unique_name, gates=gates)
    text = world.plan.read_text().replace("verify: full", "verify: 'sample:25%'", 1)
    world.plan.write_text(text)
    try:
        _seed(world, 12)
        _ok(world.cli("run", str(world.plan), "--wave", "w1"))
        (report,) = (world.state / "reports").glob("run-*.json")
        by = json.loads(report.read_text())["totals"]["verified_by"]
        assert by["sampled"] > 0 and by["full"] + by["sampled"] == 12, by
        plan = str(world.plan)
        refused = world.cli("cutover", plan, "--wave", "w1")
        assert refused.returncode == 6, refused.stdout + refused.stderr
        assert "gate full_readback refused" in refused.stderr
        assert "verify PLAN --mode full" in refused.stderr
        assert not world.effect.exists()  # nothing switched
        _ok(world.cli("verify", plan, "--wave", "w1", "--mode", "full"))
        done = world.cli("cutover", plan, "--wave", "w1", "--json")
        _ok(done)
        assert json.loads(done.stdout)["datasets"] == {"ds": "switched"}
        verified = [g for g in json.loads(done.stdout)["gates"] if g["gate"] == "verified"]
        assert verified and "(100.000% by full read-back)" in verified[0]["measured"]
    finally:
        _teardown(world)
