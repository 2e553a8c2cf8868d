"""``python -m bench.summary [FILE ...]``: one Markdown table from saved results (default:
the latest file of each suite in bench/results/), with each file's commit and load."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.report import RESULTS, table
from bench.suites import Row

SUITES = ("copy", "small", "big", "corpus10k", "inventory")


def latest() -> list[Path]:
    found = []
    for suite in SUITES:
        files = sorted(RESULTS.glob(f"{suite}-*.json"))
        found += files[-1:]
    return found


def rows(document: dict[str, Any]) -> list[Row]:
    fields = Row.__dataclass_fields__
    return [
        Row(**({"load": float("nan")} | {k: v for k, v in row.items() if k in fields}))
        for row in document["rows"]
    ]


def main(argv: list[str] | None = None) -> int:
    """One table per results file (ratios are against the rclone run of the same file)."""
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])] or latest()
    for path in paths:
        document = json.loads(path.read_text())
        code = document.get("code", {})
        tuning = document["settings"].get("tuning")
        print(f"\n{path.name}: commit {code.get('commit', '?')[:7]}, tuning {tuning}\n")
        print(table(rows(document)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
