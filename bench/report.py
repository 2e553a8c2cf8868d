"""Results: one JSON file per suite run in bench/results/, and a Markdown summary table."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

from bench.suites import Row
from devstack.corpus import MIB

RESULTS = Path(__file__).resolve().parent / "results"
HEADER = (
    "| suite | tool | mode | objects | MiB | s | MiB/s | obj/s | peak RSS MiB | ×rclone | load "
    "| ok |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / (1 << 30), 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and whether hdh_migrate/ had uncommitted changes (others'
    work in progress is live in an editable install)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": git("status", "--porcelain", "hdh_migrate"),
    }


def save(suite: str, stamp: str, rows: list[Row], settings: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{suite}-{stamp}.json"
    document = {
        "suite": suite,
        "at": stamp,
        "machine": machine(),
        "code": code_version(),
        "settings": settings,
        "rows": [row.to_dict() for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def table(rows: list[Row]) -> str:
    """Markdown table; ``×rclone`` = this run's MiB/s over plain rclone's on the same suite."""
    baseline = {
        r.suite: r.mib_s for r in rows if r.tool == "rclone" and r.mode.startswith("plain") and r.ok
    }
    lines = [HEADER]
    for r in rows:
        measured = r.tool != "seed (azure SDK)" and baseline.get(r.suite)
        ratio = f"{r.mib_s / baseline[r.suite]:.2f}" if measured else "—"
        rss = f"{r.peak_rss / MIB:.0f}" if r.peak_rss else "—"
        lines.append(
            f"| {r.suite} | {r.tool} | {r.mode} | {r.objects} | {r.bytes / MIB:.0f} "
            f"| {r.seconds:.1f} | {r.mib_s:.1f} | {r.objects_s:.0f} | {rss} | {ratio} "
            f"| {r.load:.1f} | {'yes' if r.ok else 'NO ' + r.note[:60]} |"
        )
    return "\n".join(lines)
