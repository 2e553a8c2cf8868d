"""devstack.procs recognises a service it just spawned, even while it is still exec-ing."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from devstack import procs


def test_a_just_spawned_process_is_recognised_at_once_every_time(tmp_path: Path) -> None:
    # The PID printed by the launcher is a shell that execs `setsid`, which execs the
    # program: during each exec /proc/<pid>/cmdline reads empty for an instant. A
    # caller polling `matches` right after `spawn` (the TLS test servers) saw that
    # instant as "the server died" about once in a hundred starts.
    tail = shutil.which("tail")
    assert tail
    misses = 0
    for i in range(100):
        marker = tmp_path / f"watched-{i}"
        marker.touch()
        pid = procs.spawn([tail, "-f", str(marker)], tmp_path / "spawn.log")
        try:
            for _ in range(5):
                misses += not procs.matches(pid, [tail, str(marker)])
        finally:
            if not procs.stop(pid, [tail, str(marker)]) and str(marker) in procs.cmdline(pid):
                os.kill(pid, signal.SIGKILL)  # not recognised (the bug): leave no process behind
    assert misses == 0


def test_a_process_that_is_gone_is_not_recognised(tmp_path: Path) -> None:
    true = shutil.which("true")
    assert true
    pid = procs.spawn([true, "gone"], tmp_path / "spawn.log")
    for _ in range(200):
        if not procs.cmdline(pid):
            break
        time.sleep(0.01)
    assert procs.cmdline(pid) == []
    assert not procs.matches(pid, [true, "gone"])
