"""``python -m bench.summary [FILE ...]``: one Markdown table from saved results (default:
the latest file of each suite in bench/results/), with each file's commit and load.

``python -m bench.summary --medians [FILE ...]``: the median of several runs of one suite
(default: the latest three files of each suite), one row per tool and mode, with the load
range the runs saw. ``×rclone`` is the median of each run's own ratio (a row against
rclone's row of the same run), not a ratio of medians."""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.report import RESULTS, ratios, table
from bench.suites import Row
from devstack.corpus import MIB

SUITES = ("copy", "small", "big", "corpus10k", "inventory")
MEDIANS_HEADER = (
    "| suite | tool | mode | runs | s | MiB/s | obj/s | peak RSS MiB | ×rclone "
    "| CPU s/GiB | CPU ms/obj | load (min–max) |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def latest(count: int = 1) -> list[Path]:
    found = []
    for suite in SUITES:
        files = sorted(RESULTS.glob(f"{suite}-*.json"))
        found += files[-count:]
    return found


def rows(document: dict[str, Any]) -> list[Row]:
    fields = Row.__dataclass_fields__
    return [
        Row(**({"load": float("nan")} | {k: v for k, v in row.items() if k in fields}))
        for row in document["rows"]
    ]


def medians(runs: list[list[Row]]) -> str:
    """One Markdown row per (suite, tool, mode) seen in ``runs`` (each the rows of one
    results file): medians over the runs where that row succeeded."""
    seen: dict[tuple[str, str, str], list[tuple[Row, float | None]]] = defaultdict(list)
    for run in runs:
        for row, ratio in zip(run, ratios(run), strict=True):
            if row.ok:
                seen[(row.suite, row.tool, row.mode)].append((row, ratio))
    lines = [MEDIANS_HEADER]
    for (suite, tool, mode), found in seen.items():
        done = [row for row, _ in found]
        rel = [ratio for _, ratio in found if ratio is not None]

        def med(values: list[float], fmt: str) -> str:
            return format(statistics.median(values), fmt) if values else "—"

        per_gib = [r.cpu_s / (r.bytes / (1 << 30)) for r in done if r.cpu_s and r.bytes]
        per_obj = [1000 * r.cpu_s / r.objects for r in done if r.cpu_s and r.objects]
        loads = [r.load for r in done]
        lines.append(
            f"| {suite} | {tool} | {mode} | {len(done)} "
            f"| {med([r.seconds for r in done], '.1f')} "
            f"| {med([r.mib_s for r in done], '.1f')} "
            f"| {med([r.objects_s for r in done], '.0f')} "
            f"| {med([r.peak_rss / MIB for r in done if r.peak_rss], '.0f')} "
            f"| {med(rel, '.2f')} | {med(per_gib, '.1f')} | {med(per_obj, '.2f')} "
            f"| {min(loads):.1f}–{max(loads):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """One table per results file (ratios are against the rclone run of the same file), or
    with ``--medians`` one table of medians per suite."""
    args = list(argv if argv is not None else sys.argv[1:])
    median_mode = "--medians" in args
    args = [a for a in args if a != "--medians"]
    paths = [Path(p) for p in args] or latest(3 if median_mode else 1)
    if median_mode:
        by_suite: dict[str, list[list[Row]]] = defaultdict(list)
        for path in paths:
            document = json.loads(path.read_text())
            by_suite[document["suite"]].append(rows(document))
        for suite, runs in by_suite.items():
            print(f"\n{suite}: medians of {len(runs)} run(s)\n")
            print(medians(runs))
        return 0
    for path in paths:
        document = json.loads(path.read_text())
        code = document.get("code", {})
        tuning = document["settings"].get("tuning")
        print(f"\n{path.name}: commit {code.get('commit', '?')[:7]}, tuning {tuning}\n")
        print(table(rows(document)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
