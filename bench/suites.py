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
from bench.measure import Measured
from bench.tools import Tuning, run_hdh, run_rclone, verified_count, write_rclone_conf
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

    @property
    def mib_s(self) -> float:
        return self.bytes / MIB / self.seconds if self.seconds else 0.0

    @property
    def objects_s(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"mib_s": self.mib_s, "objects_s": self.objects_s}


def _row(suite: str, tool: str, mode: str, data: Dataset, m: Measured, ok: bool) -> Row:
    note = "" if ok else f"exit {m.returncode}: {m.tail(3)}"
    return Row(suite, tool, mode, data.count, data.bytes, m.seconds, m.peak_rss, ok, note)


def side_by_side(suite: str, data: Dataset, opts: Options, threads: int) -> Iterator[Row]:
    """Seed ``data`` once; run hdh-migrate per verify mode, rclone, rclone + crypt."""
    container = servers.fresh_name(suite)
    work = opts.work / container
    seeded = servers.seed_container(opts_stack(opts), container, data, threads)
    yield Row(suite, "seed (azure SDK)", "-", data.count, data.bytes, seeded, 0, True)
    try:
        for mode in opts.verify_modes if "hdh" in opts.tools else ():
            yield _hdh_row(suite, data, opts, container, work / f"hdh-{mode}", mode)
        if "rclone" not in opts.tools:
            return
        yield _rclone_row(suite, data, opts, container, work / "rclone", crypt=False)
        if opts.crypt:
            yield _rclone_row(suite, data, opts, container, work / "rclone-crypt", crypt=True)
    finally:
        if not opts.keep:
            servers.drop_container(opts_stack(opts), container)


def _hdh_row(
    suite: str, data: Dataset, opts: Options, container: str, work: Path, mode: str
) -> Row:
    stack = opts_stack(opts)
    bucket = servers.new_bucket(stack, suite)
    try:
        measured, status = run_hdh(stack, container, bucket, work, opts.tuning, mode)
        ok = measured.returncode == 0 and verified_count(status) == data.count
        return _row(suite, "hdh-migrate", f"verify {mode}", data, measured, ok)
    finally:
        _drop(opts, bucket, work)


def _rclone_row(
    suite: str, data: Dataset, opts: Options, container: str, work: Path, crypt: bool
) -> Row:
    stack = opts_stack(opts)
    bucket = servers.new_bucket(stack, suite)
    try:
        measured = run_rclone(stack, container, bucket, work, opts.tuning, crypt)
        stored, _ = servers.count_objects(stack, bucket)
        ok = measured.returncode == 0 and stored == data.count
        mode = "crypt, check size+md5" if crypt else "plain, check size+md5"
        return _row(suite, "rclone", mode, data, measured, ok)
    finally:
        _drop(opts, bucket, work)


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
    """32 × 64 MiB: throughput."""
    yield from side_by_side("copy", fixed("copy", 32, 64 * MIB), opts, threads=8)


def small_suite(opts: Options) -> Iterator[Row]:
    """10,000 × 4–64 KiB: per-object overhead."""
    yield from side_by_side("small", uniform("small", 10_000, 4 * KIB, 64 * KIB), opts, threads=16)


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
            yield _hdh_row(suite, data, opts, container, work / f"hdh-{mode}", mode)
    finally:
        if not opts.keep:
            servers.drop_container(opts_stack(opts), container)


SUITES: dict[str, Callable[[Options], Iterator[Row]]] = {
    "copy": copy_suite,
    "small": small_suite,
    "big": big_suite,
    "corpus10k": corpus_suite,
}


def timestamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
