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
    "| suite | tool | mode | objects | MiB | s | MiB/s | obj/s | peak RSS MiB | ×rclone "
    "| CPU s | CPU ms/obj | CPU s/GiB | servers CPU s | load | ok |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
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
    """Markdown table. ``×rclone`` = this row's speed over plain rclone's on the same suite
    and target scheme (a no-op re-run over rclone's ``--checksum`` no-op: the ratio of
    their times).
    CPU columns: the tool's own user + system seconds, per object and per GiB moved;
    ``servers CPU s``: what Azurite and SeaweedFS spent during the row."""
    lines = [HEADER]
    for r, rel in zip(rows, ratios(rows), strict=True):
        ratio = f"{rel:.2f}" if rel is not None else "—"
        rss = f"{r.peak_rss / MIB:.0f}" if r.peak_rss else "—"
        lines.append(
            f"| {r.suite} | {r.tool} | {r.mode} | {r.objects} | {r.bytes / MIB:.0f} "
            f"| {r.seconds:.1f} | {r.mib_s:.1f} | {r.objects_s:.0f} | {rss} | {ratio} "
            f"| {_cpu(r)} | {r.load:.1f} | {'yes' if r.ok else 'NO ' + r.note[:60]} |"
        )
    return "\n".join(lines)


def ratios(rows: list[Row]) -> list[float | None]:
    """Each row's speed over plain rclone's on the same suite and target scheme, from
    ``rows`` alone (one run); None where there is no such rclone row (and for the seed)."""
    baseline = {
        (r.suite, r.noop, _https(r)): r.seconds
        for r in rows
        if r.tool == "rclone" and r.mode.startswith(("plain", "no-op")) and r.ok
    }
    found: list[float | None] = []
    for r in rows:
        base = baseline.get((r.suite, r.noop, _https(r))) if r.tool != "seed (azure SDK)" else None
        found.append(base / r.seconds if base and r.seconds else None)
    return found


def _https(r: Row) -> bool:
    return ", https" in r.mode


def _cpu(r: Row) -> str:
    if not r.cpu_s:
        return "— | — | — | —"
    per_object = 1000 * r.cpu_s / r.objects if r.objects else 0.0
    per_gib = r.cpu_s / (r.bytes / (1 << 30)) if r.bytes else 0.0
    servers = f"{r.servers_cpu_s:.1f}" if r.servers_cpu_s else "—"
    return f"{r.cpu_s:.1f} | {per_object:.2f} | {per_gib:.1f} | {servers}"
