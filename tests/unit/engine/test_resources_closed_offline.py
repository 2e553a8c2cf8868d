"""Close what opens, without servers: a plan run 50 times in one process through
``session.migration`` (file KEK, memory target from the plan, thread pool, journal,
manifest, state lock) leaves open file descriptors and threads where they began.
The SoftHSM2 variant (PKCS#11 sessions) is tests/integration/test_resources_closed.py."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run import session
from tests.offline_plan import new_store, offline_plan_text, one_dataset

RUNS = 50


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_fifty_runs_in_one_process_leak_no_fd_and_no_thread(tmp_path: Path) -> None:
    data = tmp_path / "src" / "data"
    data.mkdir(parents=True)
    for n in range(3):
        (data / f"f{n}.bin").write_bytes(os.urandom(2000 + n))
    store = new_store()
    plan = tmp_path / "plan.yaml"
    rest = one_dataset(tmp_path / "k.key", tmp_path / "state", defaults="concurrency: 4")
    plan.write_text(offline_plan_text("leaks", tmp_path / "src", rest, store=store))
    counts = []
    try:
        for n in range(RUNS + 1):
            (data / "f0.bin").write_bytes(os.urandom(1000 + n))  # one object to copy each run
            with session.migration(plan, session.RunSettings(concurrency=4)) as job:
                (outcome,) = job.run()
            assert outcome.failed == [] and outcome.copied == (3 if n == 0 else 1)
            counts.append((open_fds(), threading.active_count()))
    finally:
        drop_store(store)
    baseline = counts[0]  # after one run: modules and their files are loaded once
    assert counts[-1] == baseline, counts[::10]
