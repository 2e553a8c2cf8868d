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
from bench.suites import Options, Row, _rclone_row, opts_stack, timestamp
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


def noop_ceiling(work: Path, objects: int, executor: str) -> dict[str, Any]:
    """Results per second through the real coordinator with no-op units."""
    from hdh_migrate.engine.run.session import RunSettings, migration

    stack = opts_stack(Options(work=work))
    source = work / f"noop-src-{executor}" / "data"
    source.mkdir(parents=True, exist_ok=True)
    for i in range(objects):
        (source / f"{i:07d}").touch()
    plan = write_plan(
        stack, "unused", f"noop-{executor}", work / f"noop-{executor}", Tuning(), "full"
    )
    text = plan.read_text().replace(
        "sources:\n", f"sources:\n  disk: {{kind: local, path: '{source.parent}'}}\n", 1
    )
    plan.write_text(text.replace("source: azurite", "source: disk") + _executor(executor))
    os.environ.update(stack_env(stack))
    stamps: dict[str, float] = {}

    class Clock:
        def event(self, name: str, **fields: Any) -> None:
            stamps.setdefault(name, time.monotonic())
            if name in ("object.copied", "object.verified"):
                stamps[name + ".last"] = time.monotonic()

    with _noop_units(), migration(plan, RunSettings(concurrency=8), Clock()) as job:
        began = time.monotonic()
        outcome = job.run()[0]
        total = time.monotonic() - began
    copy = stamps["object.copied.last"] - stamps["copy.start"]
    verify = stamps["object.verified.last"] - stamps["verify.start"]
    return {
        "executor": executor,
        "objects": objects,
        "verified": outcome.verified,
        "copy_results_s": objects / copy,
        "verify_records_s": objects / verify,
        "run_seconds": total,
    }


def _executor(kind: str) -> str:
    return "executor: {kind: dask, workers: 2, threads_per_worker: 4}\n" if kind == "dask" else ""


def scheduler_overhead(tasks: int, window: int = 16) -> dict[str, Any]:
    """Trivial tasks through the Dask executor's bounded window: tasks/s, ms per task."""
    from hdh_migrate.execution import DaskSettings, imap_unordered, make_executor

    executor: Executor = make_executor("dask", dask=DaskSettings(workers=2, threads_per_worker=4))
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
    }


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
        yield _rclone_row("small-scaleout", data, opts, container, opts.work / "rclone", False)
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
