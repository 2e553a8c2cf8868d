"""``python -m bench.scale_out``: what bounds a run as workers are added (docs/scale-out.md).

Three measurements, on the local stack:

- ``small``: N × 4–64 KiB, Azurite → SeaweedFS: hdh-migrate on threads, hdh-migrate on a
  local Dask cluster of 2 worker processes, and rclone, side by side (same servers, run).
- ``noop``: the coordinator's ceiling — no-op work units (no I/O: each returns a plain
  ``copied`` result at once) through the real coordinator (journal cursor, window, journal
  marks, verify records into the signed manifest): results recorded per second, on threads
  and on the local Dask cluster (which adds the scheduler's per-task overhead).
- ``tasks``: the scheduler alone — trivial tasks through the Dask executor's window.

Results go to bench/results/scaleout-<stamp>.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import servers
from bench.measure import run_measured
from bench.report import RESULTS, machine, table
from bench.suites import Options, Row, _rclone_rows, opts_stack, timestamp
from bench.tools import (
    VENV_BIN,
    Tuning,
    stack_env,
    verified_count,
    write_plan,
    write_rclone_conf,
)
from devstack.corpus import KIB, uniform
from hdh_migrate.stages.items import CopyItem, CopyResult, VerifyItem, VerifyResult

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- no-op work units


def noop_copy(item: CopyItem, clients: Any = None) -> CopyResult:
    """A copy that does nothing: the coordinator's cost per result, nothing else."""
    return CopyResult(
        dataset=item.dataset,
        key=item.key,
        state="copied",
        etag=item.etag,
        size=item.size,
        plaintext_sha256="0" * 64,
        ciphertext_sha256="0" * 64,
        header_sha256="0" * 64,
        target_key=item.target_key,
        target_etag='"noop"',
        target_size=item.size,
    )


def noop_verify(item: VerifyItem, clients: Any = None) -> VerifyResult:
    return VerifyResult(item.dataset, item.key, item.mode, True)


def _trivial(n: int) -> int:
    return n + 1


@contextmanager
def _noop_units() -> Iterator[None]:
    from hdh_migrate.engine.run import runner

    saved = runner.copy_object, runner.verify_object
    runner.copy_object, runner.verify_object = noop_copy, noop_verify  # type: ignore[assignment]
    try:
        yield
    finally:
        runner.copy_object, runner.verify_object = saved


def noop_ceiling(
    work: Path, objects: int, executor: str, scheduler: str | None = None
) -> dict[str, Any]:
    """Results per second through the real coordinator with no-op units: ``executor``
    threads, ``dask`` (a local cluster of 2 processes) or ``cluster`` (the Dask cluster at
    ``scheduler``, whose workers must import ``bench``: PYTHONPATH)."""
    from hdh_migrate.engine.run.session import RunSettings, migration

    stack = opts_stack(Options(work=work))
    source = work / f"noop-src-{executor}" / "data"
    source.mkdir(parents=True, exist_ok=True)
    for i in range(objects):
        (source / f"{i:07d}").touch()
    bucket = servers.new_bucket(stack, f"noop-{executor}")  # listed, never written
    plan = write_plan(stack, "unused", bucket, work / f"noop-{executor}", Tuning(), "full")
    text = plan.read_text().replace(
        "sources:\n", f"sources:\n  disk: {{kind: local, path: '{source.parent}'}}\n", 1
    )
    section = _executor(executor, scheduler)
    plan.write_text(text.replace("source: azurite", "source: disk") + section)
    os.environ.update(stack_env(stack))
    stamps: dict[str, float] = {}

    class Clock:
        def event(self, name: str, **fields: Any) -> None:
            stamps.setdefault(name, time.monotonic())
            if name in ("object.copied", "object.verified"):
                stamps[name + ".last"] = time.monotonic()

    try:
        with _noop_units(), migration(plan, RunSettings(concurrency=8), Clock()) as job:
            began = time.monotonic()
            outcome = job.run()[0]
            total = time.monotonic() - began
    finally:
        servers.target(stack, bucket).delete_bucket(force=True)
    copy = stamps["object.copied.last"] - stamps["copy.start"]
    verify = stamps["object.verified.last"] - stamps["verify.start"]
    return {
        "executor": executor,
        "objects": objects,
        "verified": outcome.verified,
        "copy_results_s": objects / copy,
        "verify_records_s": objects / verify,
        "copy_s": copy,
        "verify_s": verify,
        "run_seconds": total,
    }


def _executor(kind: str, scheduler: str | None = None) -> str:
    if kind == "cluster":
        return f"executor: {{kind: dask, scheduler: '{scheduler}'}}\n"
    return "executor: {kind: dask, workers: 2, threads_per_worker: 4}\n" if kind == "dask" else ""


def scheduler_overhead(
    tasks: int, window: int = 16, scheduler: str | None = None
) -> dict[str, Any]:
    """Trivial tasks through the Dask executor's bounded window: tasks/s, ms per task (a
    local cluster of 2 processes, or the cluster at ``scheduler``)."""
    from hdh_migrate.execution import DaskSettings, imap_unordered, make_executor

    settings = DaskSettings(scheduler=scheduler, workers=2, threads_per_worker=4)
    executor: Executor = make_executor("dask", dask=settings)
    with executor:
        list(imap_unordered(executor, _trivial, range(50), window))  # warm the workers
        began = time.monotonic()
        done = sum(1 for _ in imap_unordered(executor, _trivial, range(tasks), window))
        seconds = time.monotonic() - began
    return {
        "tasks": done,
        "window": window,
        "tasks_s": done / seconds,
        "ms_per_task": 1000 * seconds / done,
        "seconds": seconds,
    }


# ---------------------------------------------------------------- the noop suite

NOOP_KINDS = {
    "threads": "threads",
    "dask": "local Dask, 2 processes",
    "cluster": "devstack Dask cluster, 2 workers",
}


def noop_rows(opts: Options) -> Iterator[Row]:
    """``python -m bench noop``: the coordinator's ceiling, one row per executor and phase
    (copy results/s, verify records/s: objects/s of the row), and the scheduler's round
    trip per trivial task on both clusters. Each row carries the load average at its end."""
    import socket

    from devstack import dask_cluster

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p
    )  # the workers import bench.scale_out's no-op units
    stack = opts_stack(opts)
    env = {**os.environ, **stack_env(stack)}
    with socket.socket() as sock:  # a free port for the scheduler (8786 + offset: the tests')
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cluster = dask_cluster.ensure(env, name="dask-bench", port=port)
    try:
        for kind, label in NOOP_KINDS.items():
            scheduler = cluster.address if kind == "cluster" else None
            m = noop_ceiling(opts.work, opts.noop_objects, kind, scheduler)
            ok = m["verified"] == m["objects"]
            for phase, key in (("copy results", "copy_s"), ("verify records", "verify_s")):
                mode = f"no-op units, {label}: {phase}"
                yield Row("noop", "hdh-migrate", mode, m["objects"], 0, m[key], 0, ok)
        for kind, scheduler in (("dask", None), ("cluster", cluster.address)):
            t = scheduler_overhead(opts.noop_objects // 4, scheduler=scheduler)
            mode = f"trivial tasks, window 16, {NOOP_KINDS[kind]}"
            yield Row("noop", "dask scheduler", mode, t["tasks"], 0, t["seconds"], 0, True)
    finally:
        dask_cluster.stop("dask-bench")


# ---------------------------------------------------------------- the small suite


def small_rows(opts: Options, objects: int) -> Iterator[Row]:
    data = uniform("small", objects, 4 * KIB, 64 * KIB)
    stack = opts_stack(opts)
    container = servers.fresh_name("scaleout")
    seeded = servers.seed_container(stack, container, data, 16)
    yield Row("small-scaleout", "seed (azure SDK)", "-", data.count, data.bytes, seeded, 0, True)
    try:
        for kind in ("threads", "dask"):
            yield _hdh_row(opts, container, data, kind)
        rclone = opts.work / "rclone"
        yield from _rclone_rows("small-scaleout", data, opts, container, rclone, False)
    finally:
        if not opts.keep:
            servers.drop_container(stack, container)


def _hdh_row(opts: Options, container: str, data: Any, kind: str) -> Row:
    stack = opts_stack(opts)
    bucket = servers.new_bucket(stack, "scaleout")
    work = opts.work / f"hdh-{kind}"
    plan = write_plan(stack, container, bucket, work, opts.tuning, "metadata")
    plan.write_text(plan.read_text() + _executor(kind))
    env = {**stack_env(stack), "PYTHONPATH": str(REPO)}
    measured = run_measured(
        [str(VENV_BIN / "hdh-migrate"), "run", str(plan)], work / "run.log", env
    )
    status = _status(plan, env)
    ok = measured.returncode == 0 and verified_count(status) == data.count
    mode = "verify metadata, " + ("local Dask, 2 processes" if kind == "dask" else "threads")
    row = Row("small-scaleout", "hdh-migrate", mode, data.count, data.bytes, measured.seconds,
              measured.peak_rss, ok, "" if ok else measured.tail(3))  # fmt: skip
    if not opts.keep:
        servers.drop_bucket(stack, bucket, write_rclone_conf(stack, work, bucket))
    return row


def _status(plan: Path, env: dict[str, str]) -> dict[str, Any]:
    import subprocess

    done = subprocess.run(
        [str(VENV_BIN / "hdh-migrate"), "status", str(plan), "--json"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    return json.loads(done.stdout) if done.returncode == 0 else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--objects", type=int, default=2000, help="small-suite objects")
    parser.add_argument("--noop", type=int, default=5000, help="no-op units per executor")
    parser.add_argument("--tasks", type=int, default=2000, help="trivial scheduler tasks")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-small", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    os.environ["PYTHONPATH"] = str(REPO)  # the workers import bench.scale_out's no-op units
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="hdh-scaleout-"))
    opts = replace(Options(work=work, keep=args.keep), tuning=Tuning(args.concurrency))
    rows = [] if args.skip_small else list(small_rows(opts, args.objects))
    noop = [noop_ceiling(work, args.noop, kind) for kind in ("threads", "dask")]
    tasks = scheduler_overhead(args.tasks)
    stamp = timestamp()
    RESULTS.mkdir(exist_ok=True)
    document = {
        "suite": "scaleout",
        "at": stamp,
        "machine": machine(),
        "rows": [r.to_dict() for r in rows],
        "noop": noop,
        "scheduler": tasks,
        "load": os.getloadavg(),
    }
    path = RESULTS / f"scaleout-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    if rows:
        print(table(rows))
    for entry in noop:
        copies, records = entry["copy_results_s"], entry["verify_records_s"]
        print(
            f"no-op ceiling, {entry['executor']}: {copies:.0f} copy results/s, "
            f"{records:.0f} verify records/s ({entry['objects']} units)"
        )
    print(f"scheduler: {tasks['tasks_s']:.0f} trivial tasks/s, {tasks['ms_per_task']:.2f} ms/task")
    print(f"load average {os.getloadavg()}; saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
