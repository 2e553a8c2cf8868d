"""Memory and local targets in a plan: built from the plan like any target (no client
substituted), accepted under the rehearsal profile only."""

from __future__ import annotations

import os
from pathlib import Path

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.engine.run import session
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.plan import check_text
from tests.offline_plan import new_store, offline_plan_text, one_dataset, parse_offline_plan


def _source(tmp_path: Path, count: int = 3) -> Path:
    data = tmp_path / "src" / "data"
    data.mkdir(parents=True)
    for n in range(count):
        (data / f"f{n}.bin").write_bytes(os.urandom(300 + n))
    return tmp_path / "src"


def test_a_memory_target_is_written_through_the_plan(tmp_path: Path) -> None:
    store = new_store()
    plan = tmp_path / "plan.yaml"
    rest = one_dataset(tmp_path / "k.key", tmp_path / "state")
    plan.write_text(offline_plan_text("mem", _source(tmp_path), rest, store=store))
    try:
        with session.migration(plan) as job:
            (outcome,) = job.run()
        assert (outcome.copied, outcome.verified, outcome.failed) == (3, 3, [])
        keys = sorted(info.key for info in MemoryBackend(store).list("enc/"))
        assert keys == ["enc/f0.bin", "enc/f1.bin", "enc/f2.bin"]
    finally:
        drop_store(store)


def test_a_local_target_is_written_through_the_plan(tmp_path: Path) -> None:
    src = _source(tmp_path)
    text = offline_plan_text("loc", src, one_dataset(tmp_path / "k.key", tmp_path / "state"),
                             store="unused")  # fmt: skip
    text = text.replace(
        '  mem: {kind: memory, store: "unused"}',
        f'  mem: {{kind: local, path: "{tmp_path / "t"}"}}',
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    with session.migration(plan) as job:
        (outcome,) = job.run()
    assert (outcome.copied, outcome.verified) == (3, 3)
    written = sorted(p.name for p in (tmp_path / "t" / "enc").iterdir())
    assert written == ["f0.bin", "f1.bin", "f2.bin"]
    sealed = (tmp_path / "t" / "enc" / "f0.bin").read_bytes()
    assert sealed[:4] == b"HDH1" and sealed != (src / "data" / "f0.bin").read_bytes()


def test_memory_and_local_targets_are_refused_outside_the_rehearsal_profile(
    tmp_path: Path,
) -> None:
    text = offline_plan_text("p", tmp_path, one_dataset(tmp_path / "k", tmp_path / "s"), store="x")
    text = text.replace("policy: {profile: rehearsal, rehearsal: true}\n", "")
    result = check_text(text, "p.yaml")
    messages = [e.one_line() for e in result.errors]
    assert any(
        "p.yaml:6:15:" in m and "a memory target is for rehearsals only" in m for m in messages
    )
    local = text.replace('{kind: memory, store: "x"}', '{kind: local, path: "/tmp/t"}')
    messages = [e.one_line() for e in check_text(local, "p.yaml").errors]
    assert any("a local target is for rehearsals only" in m for m in messages), messages


def test_the_target_spec_is_the_plans_store(tmp_path: Path) -> None:
    plan = parse_offline_plan("p", tmp_path, one_dataset(tmp_path / "k", tmp_path / "s"),
                              store="shared")  # fmt: skip
    spec = target_spec(plan, "mem")
    assert (spec.kind, spec.config.store, spec.ident) == ("memory", "shared", "target:mem")  # type: ignore[union-attr]
    assert spec.retry is not None  # the plan's retry policy wraps it like any target
