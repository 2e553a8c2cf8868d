"""Read the JSON lines of `hdh-migrate run --json` and fail unless the run moved nothing.

python examples/check_rerun.py rerun.json
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        events = [json.loads(line) for line in handle if line.strip()]
    done = [e for e in events if e.get("event") == "run.done"]
    if not done:
        print(f"{path}: no run.done event")
        return 1
    datasets = done[-1]["datasets"]
    moved = {d["dataset"]: (d["copied"], d["bytes_copied"]) for d in datasets}
    puts = [e for e in events if e.get("event") == "object.copied"]
    if any(copied or size for copied, size in moved.values()) or puts:
        print(f"re-run moved data: {moved}")
        return 1
    listed = sum(d["listed"] for d in datasets)
    print(f"re-run: {listed} objects listed, 0 copied, 0 bytes moved")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
