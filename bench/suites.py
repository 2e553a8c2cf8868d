"""The suites: each seeds its dataset once, then runs every tool on it into a fresh bucket.

Every run yields a ``Row``; a run counts as ``ok`` only when the process exited 0 and the
target holds every object (hdh-migrate: every item ``verified`` in the journal).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import servers
from bench.measure import Measured, servers_cpu
from bench.tools import Tuning, run_hdh, run_rclone, verified_count, write_rclone_conf
from devstack.config import stack_dir
from devstack.corpus import GIB, KIB, MIB, Dataset, corpus, fixed, uniform


@dataclass
class Options:
    """Command-line choices (see ``python -m bench --help``)."""

    work: Path
    tuning: Tuning = field(default_factory=Tuning)
    verify_modes: tuple[str, ...] = ("metadata", "full")
    crypt: bool = True
    tools: tuple[str, ...] = ("hdh", "rclone")
    corpus_objects: int = 10_000
    corpus_max: int = 64 * MIB
    big_size: int = 4 * GIB
    small_objects: int = 10_000
    copy_objects: int = 32
    inventory_objects: int = 1_000_000
    noop_objects: int = 2000  # no-op work units per executor (noop suite)
    noop: bool = True  # time a second, no-op run of each tool (small suite)
    probe: bool = True  # hdh-migrate probe before each run (untimed)
    hdh_codes: tuple[str, ...] = ("",)  # checkouts to run hdh-migrate from ("" = installed)
    schemes: tuple[str, ...] = ("http",)  # the target's scheme(s): one set of rows each
    executors: tuple[str, ...] = ("",)  # hdh-migrate executors ("" = threads, "dask:N")
    keep: bool = False


@dataclass
class Row:
    """One tool run on one dataset."""

    suite: str
    tool: str
    mode: str
    objects: int
    bytes: int
    seconds: float
    peak_rss: int
    ok: bool
    note: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # 1-min load at the end
    cpu_s: float = 0.0  # the tool's user + system CPU seconds (kernel accounting)
    servers_cpu_s: float = 0.0  # Azurite's and SeaweedFS's during the run (/proc)

    @property
    def mib_s(self) -> float:
        return self.bytes / MIB / self.seconds if self.seconds else 0.0

    @property
    def objects_s(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"mib_s": self.mib_s, "objects_s": self.objects_s}

    @property
    def noop(self) -> bool:
        return "no-op" in self.mode


def _row(
    suite: str, tool: str, mode: str, data: Dataset, m: Measured, ok: bool, servers: float
) -> Row:
    note = "" if ok else f"exit {m.returncode}: {m.tail(3)}"
    return Row(
        suite,
        tool,
        mode,
        data.count,
        data.bytes,
        m.seconds,
        m.peak_rss,
        ok,
        note,
        cpu_s=m.cpu_seconds,
        servers_cpu_s=servers,
    )


class _ServersCpu:
    """CPU seconds the servers used since the last ``lap`` (0 without pid files)."""

    def __init__(self) -> None:
        self.at = servers_cpu(stack_dir() / "pids")

    def lap(self) -> float:
        now = servers_cpu(stack_dir() / "pids")
        spent, self.at = now - self.at, now
        return spent


def side_by_side(suite: str, data: Dataset, opts: Options, threads: int) -> Iterator[Row]:
    """Seed ``data`` once; run hdh-migrate per verify mode, rclone, rclone + crypt."""
    container = servers.fresh_name(suite)
    work = opts.work / container
    seeded = servers.seed_container(opts_stack(opts), container, data, threads)
    yield Row(suite, "seed (azure SDK)", "-", data.count, data.bytes, seeded, 0, True)
    rerun = opts.noop and suite == "small"
    try:
        for scheme in opts.schemes:
            https = replace(opts, tuning=replace(opts.tuning, https=scheme == "https"))
            yield from _scheme_rows(suite, data, https, container, work / scheme, rerun)
    finally:
        if not opts.keep:
            servers.drop_container(opts_stack(opts), container)


def _scheme_rows(
    suite: str, data: Dataset, opts: Options, container: str, work: Path, rerun: bool
) -> Iterator[Row]:
    """hdh-migrate (per checkout, executor and verify mode), rclone, rclone + crypt."""
    for n, code in enumerate(opts.hdh_codes if "hdh" in opts.tools else ()):
        for executor in opts.executors:
            tuning = replace(opts.tuning, code=code, executor=executor)
            variant = replace(opts, tuning=tuning)
            for i, mode in enumerate(opts.verify_modes):
                where = work / f"hdh{n}-{executor.replace(':', '')}-{mode}"
                again = rerun and i == 0 and not executor
                yield from _hdh_rows(suite, data, variant, container, where, mode, again)
    if "rclone" not in opts.tools:
        return
    yield from _rclone_rows(suite, data, opts, container, work / "rclone", False, rerun)
    if opts.crypt:
        yield from _rclone_rows(suite, data, opts, container, work / "rclone-crypt", True)


def _hdh_rows(
    suite: str,
    data: Dataset,
    opts: Options,
    container: str,
    work: Path,
    mode: str,
    rerun: bool = False,
) -> Iterator[Row]:
    stack = opts_stack(opts)
    bucket = servers.new_bucket(stack, suite)
    try:
        cpu = _ServersCpu()
        measured, status, again = run_hdh(
            stack, container, bucket, work, opts.tuning, mode, probe=opts.probe, rerun=rerun
        )
        spent = cpu.lap()
        ok = measured.returncode == 0 and verified_count(status) == data.count
        tool = "hdh-migrate" + (f" @{Path(opts.tuning.code).name}" if opts.tuning.code else "")
        how = _how(opts.tuning)
        yield _row(suite, tool, f"verify {mode}{how}", data, measured, ok, spent)
        if again is not None:
            ok = again.returncode == 0
            yield _row(suite, tool, f"no-op re-run{how}", data, again, ok, cpu.lap())
    finally:
        _drop(opts, bucket, work)


def _rclone_rows(
    suite: str,
    data: Dataset,
    opts: Options,
    container: str,
    work: Path,
    crypt: bool,
    rerun: bool = False,
) -> Iterator[Row]:
    stack = opts_stack(opts)
    bucket = servers.new_bucket(stack, suite)
    try:
        cpu = _ServersCpu()
        measured, again = run_rclone(
            stack, container, bucket, work, opts.tuning, crypt, rerun=rerun
        )
        spent = cpu.lap()
        stored, _ = servers.count_objects(stack, bucket)
        ok = measured.returncode == 0 and stored == data.count
        mode = ("crypt" if crypt else "plain") + ", check size+md5" + _how(opts.tuning, hdh=False)
        yield _row(suite, "rclone", mode, data, measured, ok, spent)
        if again is not None:
            ok = again.returncode == 0
            mode = "no-op re-run --checksum" + _how(opts.tuning, hdh=False)
            yield _row(suite, "rclone", mode, data, again, ok, cpu.lap())
    finally:
        _drop(opts, bucket, work)


def _how(tuning: Tuning, *, hdh: bool = True) -> str:
    """The row's mode suffix: the target over https, a Dask executor, hdh-migrate's
    buffer budget (``hdh``: the row is hdh-migrate's)."""
    memory = f", buffers {tuning.buffer_memory >> 20} MiB" if tuning.buffer_memory and hdh else ""
    executor = f", {tuning.executor}" if tuning.executor else ""
    return (", https" if tuning.https else "") + executor + memory


def _drop(opts: Options, bucket: str, work: Path) -> None:
    if not opts.keep:
        servers.drop_bucket(
            opts_stack(opts), bucket, write_rclone_conf(opts_stack(opts), work, bucket)
        )


_STACK: list[Any] = []


def opts_stack(opts: Options) -> Any:
    """The running local stack (started on first use)."""
    if not _STACK:
        from devstack import ensure_up

        _STACK.append(ensure_up())
    return _STACK[0]


# ---------------------------------------------------------------------- the suites


def copy_suite(opts: Options) -> Iterator[Row]:
    """32 (``--copy-objects``) × 64 MiB: throughput."""
    yield from side_by_side("copy", fixed("copy", opts.copy_objects, 64 * MIB), opts, threads=8)


def small_suite(opts: Options) -> Iterator[Row]:
    """10,000 × 4–64 KiB: per-object overhead."""
    data = uniform("small", opts.small_objects, 4 * KIB, 64 * KIB)
    yield from side_by_side("small", data, opts, threads=16)


def corpus_suite(opts: Options) -> Iterator[Row]:
    """The 10k corpus (RELIABILITY), hdh-migrate only, 100 % full verification."""
    t = opts.tuning
    data = corpus(opts.corpus_objects, opts.corpus_max, t.part_size, t.threshold)
    only_full = replace(opts, verify_modes=("full",), crypt=False)
    yield from _hdh_only("corpus10k", data, only_full, threads=16)


def big_suite(opts: Options) -> Iterator[Row]:
    """One large object (4 GiB): peak RSS must stay under 300 MiB."""
    data = Dataset("big", (("data/big/one.bin", opts.big_size),))
    yield from _hdh_only("big", data, opts, threads=1)


def _hdh_only(suite: str, data: Dataset, opts: Options, threads: int) -> Iterator[Row]:
    container = servers.fresh_name(suite)
    work = opts.work / container
    seeded = servers.seed_container(opts_stack(opts), container, data, threads)
    yield Row(suite, "seed (azure SDK)", "-", data.count, data.bytes, seeded, 0, True)
    try:
        for mode in opts.verify_modes:
            yield from _hdh_rows(suite, data, opts, container, work / f"hdh-{mode}", mode)
    finally:
        if not opts.keep:
            servers.drop_container(opts_stack(opts), container)


def inventory_suite(opts: Options) -> Iterator[Row]:
    """10^6 objects listed into a fresh journal (synthetic source, nothing copied), then
    ``status --json`` and ``audit --no-inventory`` on it."""
    import sys

    from bench.measure import run_measured
    from bench.tools import ROOT, VENV_BIN, stack_env, write_plan

    count = opts.inventory_objects
    for code in opts.hdh_codes:  # one set of rows per checkout (before/after)
        work = opts.work / servers.fresh_name("inventory")
        plan = write_plan(opts_stack(opts), "unused", "unused", work, opts.tuning, "metadata")
        env = stack_env(opts_stack(opts), code)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
        build = run_measured(
            [sys.executable, "-m", "bench.inventory", str(plan), str(count)],
            work / "build.log",
            env,
        )
        tool = "hdh-migrate" + (f" @{Path(code).name}" if code else "")
        built = "journal build (synthetic listing)"
        yield _counted(tool, built, count, build, build.returncode == 0)
        hdh = str(VENV_BIN / "hdh-migrate")
        for mode, command in (
            ("status --json", [hdh, "status", str(plan), "--json"]),
            ("audit --no-inventory", [hdh, "audit", str(plan), "--no-inventory"]),
        ):
            measured = run_measured(command, work / f"{mode.split()[0]}.log", env)
            yield _counted(tool, mode, count, measured, measured.returncode in _AUDIT_OK)


#: audit exits 0 (pass) or 1 (findings, e.g. the rehearsal profile's): both ran fully.
_AUDIT_OK = (0, 1)


def _counted(tool: str, mode: str, count: int, m: Measured, ok: bool) -> Row:
    note = "" if ok else f"exit {m.returncode}: {m.tail(3)}"
    return Row(
        "inventory",
        tool,
        mode,
        count,
        0,
        m.seconds,
        m.peak_rss,
        ok,
        note,
        cpu_s=m.cpu_seconds,
    )


def noop_suite(opts: Options) -> Iterator[Row]:
    """The coordinator's ceiling: no-op work units (no I/O) through the real dispatch path
    on threads, a local Dask cluster and the devstack's Dask cluster (docs/scale-out.md)."""
    from bench.scale_out import noop_rows

    yield from noop_rows(opts)


SUITES: dict[str, Callable[[Options], Iterator[Row]]] = {
    "copy": copy_suite,
    "noop": noop_suite,
    "small": small_suite,
    "big": big_suite,
    "corpus10k": corpus_suite,
    "inventory": inventory_suite,
}


def timestamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
