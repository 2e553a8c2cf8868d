"""Run a command and measure it: wall time and peak RSS of its whole process tree.

RSS is sampled with psutil every ``interval`` seconds (the sum over the process and its
descendants), so a peak shorter than the interval can be missed; 20 ms is well below the
lifetime of any buffer that matters here (a 16 MiB part at ~100 MiB/s lives ~160 ms).
"""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

MIB = 1 << 20


@dataclass(frozen=True)
class Measured:
    """What one command did: exit code, seconds, peak RSS in bytes, where its output went."""

    returncode: int
    seconds: float
    peak_rss: int
    log: Path
    cpu_seconds: float = 0.0  # user + system of the command and its reaped descendants

    def tail(self, lines: int = 5) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and its descendants (0 for those that just exited)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_measured(
    command: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    interval: float = 0.02,
    timeout: float = 3600,
) -> Measured:
    """Run ``command`` (stdout and stderr to ``log``), sampling its tree's RSS until it ends."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        before = children_cpu()
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        peak = _sample_until_done(child, interval, start + timeout)
        seconds = time.perf_counter() - start
        cpu = children_cpu() - before
    return Measured(child.returncode, seconds, peak, log, cpu)


def children_cpu() -> float:
    """User + system CPU seconds of this process's reaped children: the kernel's own
    accounting (the utime/stime of /proc/PID/stat, summed by wait4 when a child ends), so
    a command's delta is exact and sampling-free. Commands are run one at a time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sample_until_done(child: subprocess.Popen[bytes], interval: float, deadline: float) -> int:
    peak = 0
    try:
        process = psutil.Process(child.pid)
        while child.poll() is None:
            peak = max(peak, tree_rss(process))
            if time.perf_counter() > deadline:
                child.kill()
            time.sleep(interval)
    except psutil.NoSuchProcess:
        pass
    child.wait()
    return peak


def servers_cpu(pid_dir: Path, names: Sequence[str] = ("azurite", "seaweedfs")) -> float:
    """CPU seconds the local servers (and their children) have used so far, from /proc
    (psutil): the delta around a run is what the run cost the servers."""
    total = 0.0
    for name in names:
        try:
            process = psutil.Process(int((pid_dir / f"{name}.pid").read_text().split()[0]))
            members = [process, *process.children(recursive=True)]
        except (OSError, ValueError, psutil.Error):
            continue
        for member in members:
            try:
                times = member.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total
