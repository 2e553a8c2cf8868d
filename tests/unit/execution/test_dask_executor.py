"""The Dask executor behind the seam: choice from plan and command line, the run-wide
bandwidth split, deterministic task keys, and a local cluster of worker processes."""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.s3_config import S3Settings
from hdh_migrate.engine.executor_choice import _choice, dask_settings, open_executor
from hdh_migrate.engine.run.dispatch import task_for, worker_share
from hdh_migrate.errors import UsageError
from hdh_migrate.execution import DaskSettings, SerialExecutor, is_remote, make_executor
from hdh_migrate.stages import throttle
from hdh_migrate.stages.clients import Clients, spec_digest
from hdh_migrate.stages.items import Spec
from hdh_migrate.stages.worker import run_unit
from tests.offline_plan import parse_offline_plan

MIB = 1 << 20
REST = (
    "keys: {k: {kind: file, path: /nonexistent}}\ndefaults: {key: k, concurrency: 6}\n"
    "waves:\n  - name: w\n    datasets:\n      - {name: d, source: disk, prefix: a/, target: mem}\n"
)


def _plan(tmp_path: Path, executor: str):
    return parse_offline_plan("p", tmp_path, REST + executor, store="unused")


def test_plan_scheduler_and_command_line_choose_the_executor(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "executor: {kind: dask, scheduler: 'tcp://127.0.0.1:8786'}\n")
    assert _choice(plan, None) == ("dask", "tcp://127.0.0.1:8786")
    assert _choice(plan, "threads") == ("threads", None)
    assert _choice(plan, "dask") == ("dask", "tcp://127.0.0.1:8786")
    assert _choice(plan, "tcp://localhost:9999") == ("dask", "tcp://localhost:9999")
    with pytest.raises(UsageError, match="tcp://"):
        _choice(plan, "tcp://10.1.2.3:8786")  # plaintext to another host: refused
    assert _choice(plan, "tls://10.1.2.3:8786") == ("dask", "tls://10.1.2.3:8786")


def test_local_cluster_shape_comes_from_the_plan(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "executor: {kind: dask, workers: 3, threads_per_worker: 5}\n")
    assert dask_settings(plan, None, 6) == DaskSettings(None, 3, 5)
    default = _plan(tmp_path, "executor: {kind: dask, workers: 4}\n")
    assert dask_settings(default, None, 6).threads_per_worker == 2  # ceil(6 / 4)


def test_threads_keep_their_window_of_twice_the_concurrency(tmp_path: Path) -> None:
    executor, window = open_executor(_plan(tmp_path, ""), "threads", 6)
    with executor:
        assert window == 12 and not is_remote(executor)


def test_the_run_limit_is_split_across_workers() -> None:
    class Two(SerialExecutor):
        remote = True

        def worker_count(self) -> int:
            return 2

    assert worker_share(10 * MIB, Two()) == 5 * MIB
    assert worker_share(0, Two()) == 0  # unlimited stays unlimited
    assert worker_share(10 * MIB, SerialExecutor()) == 10 * MIB
    saved = throttle.current_rate()
    try:
        throttle.configure(10 * MIB)
        task = task_for(Two(), Clients(), len)
        assert isinstance(task, partial) and task.func is run_unit
        assert task.keywords == {"rate": 5 * MIB}
        local = task_for(SerialExecutor(), Clients(), len)
        assert isinstance(local, partial) and local.func is len
    finally:
        throttle.configure(saved)


def test_a_worker_keeps_its_bucket_while_its_share_is_unchanged() -> None:
    saved = throttle.current_rate()
    try:
        assert run_unit(len, "abc", 4 * MIB) == 3
        bucket = throttle.PROCESS_BANDWIDTH
        assert bucket.rate == 4 * MIB and bucket.burst == 4 * MIB // 10
        run_unit(len, "x", 4 * MIB)
        assert throttle.PROCESS_BANDWIDTH is bucket
        run_unit(len, "x", 0)
        assert throttle.current_rate() == 0
    finally:
        throttle.configure(saved)


def test_clients_are_cached_by_the_exact_spec_not_only_its_name() -> None:
    a = Spec(S3Settings(bucket="one"), "target:t")
    b = Spec(S3Settings(bucket="two"), "target:t")
    assert spec_digest(a) != spec_digest(b)
    assert spec_digest(a) == spec_digest(Spec(S3Settings(bucket="one"), "target:t"))


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.fixture(scope="module")
def cluster() -> Any:
    """One local cluster of two worker processes for the tests below (it starts slowly)."""
    with make_executor("dask", dask=DaskSettings(workers=2, threads_per_worker=1)) as executor:
        yield executor


@pytest.mark.slow
def test_a_local_cluster_runs_tasks_in_worker_processes_and_collapses_duplicates(
    cluster: Any,
) -> None:
    executor = cluster
    assert is_remote(executor)
    assert executor.worker_count() == 2  # type: ignore[attr-defined]
    pids = {f.result(timeout=60) for f in [executor.submit(_pid_after, 0.3) for _ in range(1)]}
    spread = [executor.submit(_pid_after, 0.2 + i / 1000) for i in range(6)]
    pids |= {f.result(timeout=60) for f in spread}
    assert os.getpid() not in pids and len(pids) == 2  # both worker processes, not us
    first, second = executor.submit(_pid_after, 0.5), executor.submit(_pid_after, 0.5)
    assert first.result(timeout=60) == second.result(timeout=60)  # one task, one key


def _profiling(_: int) -> tuple[int, bool]:
    import dask.config

    return os.getpid(), bool(dask.config.get("distributed.worker.profile.enabled"))


@pytest.mark.slow
def test_the_local_clusters_workers_run_without_dasks_profiler(cluster: Any) -> None:
    """Dask's profiler samples sys._current_frames() every 10 ms: on CPython 3.11 before
    3.11.9 that deadlocks a busy worker (python/cpython#106883), so none of ours runs it."""
    seen = dict(f.result(timeout=60) for f in [cluster.submit(_profiling, i) for i in range(8)])
    assert seen and set(seen.values()) == {False}, seen


def test_dask_is_loaded_only_when_a_dask_executor_is_asked_for() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, hdh_migrate.cli.main, hdh_migrate.engine.run.session, hdh_migrate.execution;"
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _trickle(steps: int) -> int:
    """In a worker: read 1 MiB every 0.1 s into this process's byte meter."""
    from hdh_migrate.stages.meter import PROCESS_METER

    for _ in range(steps):
        PROCESS_METER.add("ds", "copy", MIB)
        time.sleep(0.1)
    return os.getpid()


@pytest.mark.slow
def test_bytes_read_on_a_worker_reach_the_coordinator_while_the_task_runs(cluster: Any) -> None:
    """The bar of a large object copied on a Dask worker moves before the object ends."""
    from hdh_migrate.stages import meter

    here = meter.ByteMeter()
    executor = cluster
    executor.relay(meter.counts, here.add)  # type: ignore[attr-defined]
    future = executor.submit(_trickle, 40)  # ~4 s
    seen: list[int] = []
    while not future.done():
        seen.append(here.get("ds", "copy"))
        time.sleep(0.1)
    assert future.result() != os.getpid()  # it ran in a worker process
    moving = sorted(set(n for n in seen if 0 < n < 40 * MIB))
    assert len(moving) >= 3, seen  # several relays while the task ran, not one at the end
    deadline = time.monotonic() + 10
    while here.get("ds", "copy") < 40 * MIB and time.monotonic() < deadline:
        time.sleep(0.1)
    assert here.get("ds", "copy") == 40 * MIB  # every byte, once
