"""R2 — the journal survives ``kill -9`` at random instants.

A child process commits batches in a loop: an inventory batch of N items (one
``synchronous=NORMAL`` transaction), then marks them copying (N small transactions) and
copied (one ``synchronous=FULL`` transaction). After each commit returns it prints the
batch id. The parent SIGKILLs it at a random instant, then checks:

- every batch whose inventory commit was printed has exactly N items;
- every batch whose copied commit was printed has N copied items;
- no partial batch exists (every batch has 0 or N items, 0 or N copied);
- ``PRAGMA integrity_check`` is ok and the journal re-opens (schema, WAL).

The default run does 100 kills (< 30 s); set HDH_JOURNAL_CRASH_KILLS=1000 or run
``python tests/reliability/test_journal_crash.py --kills 1000`` for the full R2.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hdh_migrate.journal import CopyResult, InventoryEntry, ItemState, Journal

if __name__ != "__main__":  # the child runs this file as a script: spare it pytest's import
    import pytest

    pytestmark = pytest.mark.slow

BATCH = 20
KILLS = int(os.environ.get("HDH_JOURNAL_CRASH_KILLS", "100"))


def dataset_of(batch: int) -> str:
    return f"batch-{batch:07d}"


def child(db: Path, start: int) -> None:
    """Commit batches forever, printing each id after its commit returned."""
    journal = Journal(db)
    print("ready", flush=True)
    for batch in range(start, sys.maxsize):
        dataset = dataset_of(batch)
        entries = [InventoryEntry(dataset, f"k{i:03d}", i, f"e{batch}") for i in range(BATCH)]
        journal.upsert_inventory(entries, batch_size=BATCH)
        print(f"inv {batch}", flush=True)
        for entry in entries:
            journal.mark_copying(entry.item_id)
        result = CopyResult("0" * 64, "1" * 64, "t", 1, "2" * 64)
        journal.mark_copied_many((entry.item_id, result) for entry in entries)
        print(f"copied {batch}", flush=True)


@dataclass
class History:
    """What the children said they committed, across all kills."""

    inventoried: set[int] = field(default_factory=set)
    copied: set[int] = field(default_factory=set)
    kills: int = 0
    next_batch: int = 0
    cut_between: int = 0  # batches left inventoried but never copied: kills mid-batch

    def record(self, output: str) -> None:
        for line in output.splitlines():
            kind, _, number = line.partition(" ")
            if kind == "inv":
                self.inventoried.add(int(number))
            elif kind == "copied":
                self.copied.add(int(number))


def run_and_kill(db: Path, history: History, rng: random.Random) -> None:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(db), "--start", str(history.next_batch)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0.0, 0.12))
    proc.send_signal(signal.SIGKILL)
    output, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    history.record(output)
    history.kills += 1


def check(db: Path, history: History) -> None:
    """The R2 invariants; raises AssertionError naming the broken batch."""
    with Journal(db) as journal:
        assert journal.integrity_check() == "ok"
        per_batch: dict[int, dict[ItemState, int]] = {}
        for count in journal.counts():
            batch = int(count.dataset.removeprefix("batch-"))
            per_batch.setdefault(batch, {})[count.state] = count.count
    for batch, states in per_batch.items():
        assert sum(states.values()) == BATCH, f"partial batch {batch}: {states}"
        assert states.get(ItemState.COPIED, 0) in (0, BATCH), f"partial copy {batch}: {states}"
    for batch in history.inventoried:
        assert batch in per_batch, f"batch {batch} was committed, then lost"
    for batch in history.copied:
        assert per_batch[batch].get(ItemState.COPIED) == BATCH, f"copied batch {batch} lost"
    history.next_batch = max(per_batch, default=-1) + 1
    history.cut_between = sum(1 for s in per_batch.values() if ItemState.COPIED not in s)


@dataclass
class Summary:
    kills: int = 0
    committed: int = 0
    copied: int = 0
    cut_between: int = 0

    def add(self, history: History) -> None:
        self.kills += history.kills
        self.committed += len(history.inventoried)
        self.copied += len(history.copied)
        self.cut_between += history.cut_between


def crash_loop(db: Path, kills: int, seed: int, rotate: int = 100) -> Summary:
    """Kill and check ``kills`` times; a fresh journal every ``rotate`` kills keeps the
    per-kill integrity_check fast (its cost grows with the file, not with the risk)."""
    rng = random.Random(seed)
    summary = Summary()
    for start in range(0, kills, rotate):
        path = db if start == 0 else db.with_name(f"{db.stem}-{start // rotate}{db.suffix}")
        history = History()
        for _ in range(min(rotate, kills - start)):
            run_and_kill(path, history, rng)
            check(path, history)
        summary.add(history)
    return summary


def test_journal_survives_random_sigkills(tmp_path: Path) -> None:
    started = time.monotonic()
    summary = crash_loop(tmp_path / "journal.db", KILLS, seed=int(time.time()))
    assert summary.kills == KILLS
    # The kills must have landed while work was going on, not only before or after it.
    assert summary.committed > KILLS // 2
    assert summary.cut_between > 0  # some kills fell between a batch's two commits
    print(
        f"{KILLS} kills, {summary.committed} batches committed, "
        f"{summary.copied} copied, {time.monotonic() - started:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=Path("journal-crash.db"))
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--rotate", type=int, default=100, help="kills per journal file")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.start)
        return
    started = time.monotonic()
    summary = crash_loop(args.db, args.kills, args.seed, args.rotate)
    print(
        f"R2 ok: {summary.kills} kills (seed {args.seed}), {summary.committed} batches "
        f"committed, {summary.copied} copied, {summary.cut_between} cut between commits, "
        f"{time.monotonic() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
