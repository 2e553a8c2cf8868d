"""The cutover engine with a hook or manual freeze, on a local source and an in-memory
target (no servers). The freeze hook "revokes write access" by creating a flag file the
source wrapper honours, as a real hook would change an ACL."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.base import Backend, ObjectInfo, WriteOptions
from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.cutover import CutoverError, WaveCutover
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.errors import AuthError, GateRefusedError, UsageError
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter, verify_manifest
from hdh_migrate.journal import DatasetState, ItemState, Journal
from tests.offline_plan import MemoryTargetClients, parse_offline_plan

REST = """\
keys:
  k: {{kind: file, path: "{tmp}/kek.key", create: true}}
defaults: {{key: k, verify: full}}
state_dir: "{tmp}/state"
waves:
  - name: w1
    datasets:
      - name: ds
        source: disk
        prefix: data/
        target: mem
        target_prefix: enc/
    cutover:
      freeze:
        strategy: {strategy}
{freeze_hooks}
      switch:
        - run: echo "$HDH_TARGET_ENDPOINT $HDH_TARGET_BUCKET $HDH_DATASETS" > {tmp}/readers
{switch_extra}
      rollback:
        - run: echo source > {tmp}/readers
"""

FREEZE_HOOKS = """        hook: {{run: "touch {tmp}/frozen"}}
        unfreeze: {{run: "rm -f {tmp}/frozen"}}"""


class Freezable:
    """A source backend refusing writes and deletes while ``flag`` exists (like a 403)."""

    def __init__(self, inner: Backend, flag: Path) -> None:
        self._inner, self._flag, self.name = inner, flag, inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._inner.list(prefix)

    def write(
        self, key: str, stream: Any, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        if self._flag.exists():
            raise AuthError(f"{self.name}: write {key!r}: 403 frozen")
        return self._inner.write(key, stream, size, options)

    def delete(self, key: str) -> None:
        if self._flag.exists():
            raise AuthError(f"{self.name}: delete {key!r}: 403 frozen")
        self._inner.delete(key)


class FakeClients(MemoryTargetClients):
    """The in-memory target, and a source that a freeze hook can make refuse writes."""

    def __init__(self, store: str, flag: Path) -> None:
        super().__init__(store)
        self.flag = flag

    def backend(self, spec: Any) -> Any:
        found = super().backend(spec)
        return found if spec.kind == "memory" else Freezable(found, self.flag)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    src = tmp_path / "src" / "data"
    src.mkdir(parents=True)
    for i in range(4):
        (src / f"f{i}.bin").write_bytes(os.urandom(500 + i))
    store = f"t-{uuid.uuid4().hex}"
    yield {"tmp": tmp_path, "src": src, "store": store}
    drop_store(store)


def _plan(
    env: dict[str, Any], strategy: str, hooks: str | None = FREEZE_HOOKS, switch_extra: str = ""
) -> Any:
    tmp = env["tmp"]
    rest = REST.format(
        tmp=tmp,
        strategy=strategy,
        freeze_hooks=hooks.format(tmp=tmp) if hooks else "",
        switch_extra=switch_extra,
    )
    return parse_offline_plan("unit-cutover", tmp / "src", rest, store=env["store"])


class World:
    def __init__(self, env: dict[str, Any], plan: Any) -> None:
        self.env, self.plan = env, plan
        self.state = env["tmp"] / "state"
        self.state.mkdir(exist_ok=True)
        self.signer = Ed25519FileSigner.generate("unit")
        self.clients = FakeClients(env["store"], env["tmp"] / "frozen")

    def engine(self, journal: Journal, manifest: ManifestWriter, **kw: Any) -> WaveCutover:
        job = Migration(
            self.plan,
            plan_digest(b"plan"),
            journal=journal,
            manifest=manifest,
            executor=SerialExecutor(),
            clients=self.clients,
        )
        return WaveCutover(job, operator="op", **kw)

    def do(self, action: str, *args: Any, **kw: Any) -> Any:
        with (
            Journal(self.state / "journal.sqlite") as journal,
            ManifestWriter(self.state / "manifest.jsonl", self.signer, "u") as manifest,
        ):
            engine = self.engine(journal, manifest, **kw)
            if action == "run":
                return engine.job.run()
            return getattr(engine, action)(*args)

    def state_of(self) -> DatasetState | None:
        with Journal(self.state / "journal.sqlite") as journal:
            return journal.dataset_state("ds")


def test_hook_freeze_switch_and_rollback(env: dict[str, Any]) -> None:
    world = World(env, _plan(env, "hook"))
    world.do("run")
    (env["src"] / "new.bin").write_bytes(b"late")
    (env["src"] / "f3.bin").unlink()
    report = world.do("cutover", "w1")
    assert world.state_of() is DatasetState.SWITCHED
    assert (env["tmp"] / "frozen").exists()
    store = env["store"]
    assert (env["tmp"] / "readers").read_text() == f"memory://{store} {store} ds\n"
    freeze = next(s for s in report.steps if s["step"] == "freeze")
    assert freeze["probe"]["refused"] and "403 frozen" in freeze["probe"]["detail"]
    delta = next(s for s in report.steps if s["step"] == "delta")
    assert (delta["created"], delta["changed"], delta["deleted"]) == (1, 0, 1)
    assert [h["label"] for h in report.hooks] == ["freeze[1/1]", "switch[1/1]"]
    files = [Path(p) for p in report.paths]
    assert json.loads(files[0].read_text())["outcome"] == "ok"

    report = world.do("rollback", "w1")
    assert world.state_of() is DatasetState.ROLLED_BACK
    assert not (env["tmp"] / "frozen").exists()
    assert (env["tmp"] / "readers").read_text() == "source\n"
    assert [h["label"] for h in report.hooks] == ["rollback[1/1]", "unfreeze[1/1]"]
    assert not list(env["src"].rglob("*hdh-freeze-probe*/*"))  # canaries cleaned up
    assert verify_manifest(world.state / "manifest.jsonl", world.signer.public_key_bytes()).ok


def test_a_freeze_that_does_not_hold_is_detected(env: dict[str, Any]) -> None:
    hooks = '        hook: {{run: "true"}}\n        unfreeze: {{run: "true"}}'
    world = World(env, _plan(env, "hook", hooks=hooks))  # a hook that revokes nothing
    world.do("run")
    with pytest.raises(CutoverError, match="freeze of ds does not hold: canary write accepted"):
        world.do("cutover", "w1")
    assert world.state_of() is DatasetState.VERIFIED
    assert not [p for p in env["src"].rglob("*") if p.is_file() and "probe" in str(p)]


def test_manual_freeze_needs_a_confirmation(env: dict[str, Any]) -> None:
    world = World(env, _plan(env, "manual", hooks=None))
    world.do("run")
    with pytest.raises(UsageError, match="manual freeze not confirmed"):
        world.do("cutover", "w1")
    assert world.state_of() is DatasetState.VERIFIED
    (env["tmp"] / "frozen").touch()  # the operator revoked writes by hand
    world.do("cutover", "w1", confirm=lambda question: True)
    assert world.state_of() is DatasetState.SWITCHED
    with pytest.raises(UsageError, match="manual unfreeze not confirmed"):
        world.do("rollback", "w1")
    (env["tmp"] / "frozen").unlink()
    world.do("rollback", "w1", confirm=lambda question: True)
    assert world.state_of() is DatasetState.ROLLED_BACK


def test_rollback_refuses_when_writes_are_not_back(env: dict[str, Any]) -> None:
    world = World(env, _plan(env, "manual", hooks=None))
    world.do("run")
    (env["tmp"] / "frozen").touch()
    world.do("cutover", "w1", confirm=lambda question: True)
    with pytest.raises(CutoverError, match="still read-only"):
        world.do("rollback", "w1", confirm=lambda question: True)
    assert world.state_of() is DatasetState.SWITCHED


def test_failing_switch_hook_leaves_the_wave_final_verified(env: dict[str, Any]) -> None:
    failing = "        - run: echo cannot reach the load balancer; exit 4\n"
    world = World(env, _plan(env, "hook", switch_extra=failing))
    world.do("run")
    with pytest.raises(CutoverError, match=r"switch hook failed: switch\[2/2\] on local: exit 4"):
        world.do("cutover", "w1")
    assert world.state_of() is DatasetState.FINAL_VERIFIED
    report = sorted((world.state / "reports").glob("cutover-*.md"))[-1].read_text()
    assert "cannot reach the load balancer" in report and "outcome: **failed**" in report


def test_leases_need_an_azure_source(env: dict[str, Any]) -> None:
    world = World(env, _plan(env, "leases", hooks=None))
    world.do("run")
    with pytest.raises(UsageError, match="needs an Azure Blob source"):
        world.do("cutover", "w1")


def test_cutover_refuses_an_unverified_wave(env: dict[str, Any]) -> None:
    world = World(env, _plan(env, "hook"))
    with pytest.raises(GateRefusedError, match="gate verified refused"):
        world.do("cutover", "w1")


def test_finalize_is_refused_without_confirmation_and_before_switch(env: dict[str, Any]) -> None:
    world = World(env, _plan(env, "hook"))
    world.do("run")
    with pytest.raises(UsageError, match="point of no return"):
        world.do("finalize", "w1", False)
    with pytest.raises(UsageError, match="not every dataset is switched"):
        world.do("finalize", "w1", True)
    world.do("cutover", "w1")
    world.do("finalize", "w1", True)
    assert world.state_of() is DatasetState.FINALIZED
    with pytest.raises(UsageError, match="rollback is impossible"):
        world.do("rollback", "w1")


def test_touched_object_is_recopied_through_the_delta(env: dict[str, Any]) -> None:
    world = World(env, _plan(env, "hook"))
    world.do("run")
    path = env["src"] / "f0.bin"
    os.utime(path, (1_000_000_000, 1_000_000_000))  # a new mtime: a changed object
    world.do("cutover", "w1")
    with Journal(world.state / "journal.sqlite") as journal:
        item = journal.get("ds", "data/f0.bin")
        assert item is not None and item.state is ItemState.VERIFIED
        assert item.last_modified is not None and item.last_modified.startswith("2001-09-09")
