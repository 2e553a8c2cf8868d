"""``defaults.buffer_memory``: the bytes a process's copies hold in buffers at once. The
plan's value reaches the copies (a large object then runs alone, its reservation clamped)
and the S3 target's parts in flight."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run import session
from hdh_migrate.engine.specs import target_spec
from hdh_migrate.plan import check_text
from hdh_migrate.stages import buffers
from hdh_migrate.units import DEFAULT_BUFFER_MEMORY
from tests.offline_plan import new_store, offline_plan_text, one_dataset

MIB = 1 << 20


def _run(tmp_path: Path, defaults: str) -> int:
    """Copies 3 objects of 8 MiB with 4 transfers (each reserves its read-ahead and twice
    its ciphertext: over 16 MiB); returns the most bytes held at once."""
    src = tmp_path / "src" / "data"
    src.mkdir(parents=True)
    for n in range(3):
        (src / f"f{n}.bin").write_bytes(os.urandom(8 * MIB))
    store, plan = new_store(), tmp_path / "plan.yaml"
    rest = one_dataset(tmp_path / "k.key", tmp_path / "state", verify="none",
                       defaults=f"concurrency: 4{defaults}")  # fmt: skip
    plan.write_text(offline_plan_text("mem", tmp_path / "src", rest, store=store))
    held, peak, lock = [0], [0], threading.Lock()
    reserve = buffers.BufferBudget.reserve

    @contextmanager
    def counted(self: buffers.BufferBudget, n: int) -> Iterator[int]:
        with reserve(self, n) as got:
            with lock:
                held[0] += got
                peak[0] = max(peak[0], held[0])
            try:
                yield got
            finally:
                with lock:
                    held[0] -= got

    patch = pytest.MonkeyPatch()
    patch.setattr(buffers.BufferBudget, "reserve", counted)
    try:
        with session.migration(plan) as job:
            (outcome,) = job.run()
        assert (outcome.copied, outcome.failed) == (3, [])
    finally:
        patch.undo()
        drop_store(store)
        buffers.process_buffers(DEFAULT_BUFFER_MEMORY)
    return peak[0]


def test_a_smaller_buffer_memory_bounds_what_copies_hold_at_once(tmp_path: Path) -> None:
    assert _run(tmp_path / "default", "") > 16 * MIB  # an object's whole reservation
    assert _run(tmp_path / "small", ", buffer_memory: 16MiB") == 16 * MIB  # clamped, alone


def test_buffer_memory_sets_the_s3_targets_parts_in_flight() -> None:
    def parts(defaults: str) -> int:
        text = f"""\
version: 1
name: p
sources: {{az: {{kind: azure_blob, account_url: "https://a.blob.core.windows.net"}}}}
targets: {{s3: {{kind: s3, provider: generic, endpoint: "https://s3.example.eu",
              region: eu-west-1, bucket: bkt, auth: {{kind: default}}}}}}
defaults: {{part_size: 32MiB{defaults}}}
waves: [{{name: w, datasets: [{{name: d, source: az, container: ctr, target: s3}}]}}]
"""
        result = check_text(text, "p.yaml")
        assert result.plan is not None, [e.one_line() for e in result.errors]
        eff = result.plan.effective("d")
        return target_spec(result.plan, "s3", eff).config.max_concurrency  # type: ignore[union-attr]

    assert parts("") == 2  # (2 + 1) × 32 MiB fit 160 MiB
    assert parts(", buffer_memory: 64MiB") == 1  # 64 MiB: one part sent while one is read


def test_resize_keeps_reservations_and_makes_later_ones_wait() -> None:
    budget = buffers.BufferBudget(10)
    with budget.reserve(8):
        budget.resize(4)
        assert (budget.capacity, budget.free) == (4, -4)
        got: list[int] = []
        waiter = threading.Thread(target=lambda: got.append(_take(budget, 3)))
        waiter.start()
        waiter.join(0.1)
        assert got == []  # 8 held under a capacity of 4: the next one waits
    waiter.join(2)
    assert got == [3] and budget.free == 4
    with pytest.raises(ValueError, match="at least 1 byte"):
        budget.resize(0)


def _take(budget: buffers.BufferBudget, n: int) -> int:
    with budget.reserve(n) as got:
        return got
