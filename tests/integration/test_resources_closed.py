"""Close what opens: a plan run 50 times in one process (SoftHSM KEK, thread pool, journal,
manifest, state lock) leaves open file descriptors and PKCS#11 sessions where they began."""

from __future__ import annotations

import gc
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run import session
from hdh_migrate.keys.pkcs11 import open_sessions, reload_library
from tests.offline_plan import offline_plan_text

pytestmark = pytest.mark.stack

REST = """\
keys:
  hsm:
    kind: pkcs11
    module: {module}
    token: {token}
    label: {label}
    pin: "${{env:HDH_HSM_PIN}}"
defaults: {{key: hsm, verify: full, concurrency: 4}}
state_dir: state
waves:
  - name: w
    datasets:
      - {{name: ds, source: disk, target: mem, target_prefix: enc/}}
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_fifty_runs_in_one_process_leak_no_fd_and_no_pkcs11_session(
    stack: Any, tmp_path: Path
) -> None:
    reload_library(stack.hsm_module)  # the stack's SOFTHSM2_CONF
    src = tmp_path / "src"
    src.mkdir()
    for n in range(3):
        (src / f"f{n}.bin").write_bytes(os.urandom(2000 + n))
    plan = tmp_path / "plan.yaml"
    rest = REST.format(module=stack.hsm_module, token=stack.hsm_token, label=stack.hsm_kek_label)
    store = f"t-{uuid.uuid4().hex}"  # the plan's memory target: no client substituted
    plan.write_text(offline_plan_text("leaks", src, rest, store=store))
    # what earlier tests of this process hold, if any; their garbage is collected first, so
    # that it cannot be collected mid-loop and make a count drop under the baseline
    gc.collect()
    sessions_before = open_sessions()
    counts = []
    try:
        for n in range(51):
            (src / "f0.bin").write_bytes(os.urandom(1000 + n))  # one object to copy each run
            with session.migration(plan, session.RunSettings(concurrency=4)) as job:
                (outcome,) = job.run()
            assert outcome.failed == [] and outcome.copied >= 1
            counts.append((open_fds(), open_sessions()))
    finally:
        drop_store(store)
    # after two runs: the library and its files are loaded once, and what the first run
    # alone opened (lazy imports' files, first-use caches) is collected by then; from there
    # any descriptor or session a run left open would add up over the 49 runs that follow.
    # A count may drop under the baseline (a thread an earlier test started closing its
    # socket late): that is not a leak; any rise above it is.
    baseline = counts[1]
    assert baseline[1] == sessions_before, (sessions_before, counts[:2])
    assert all(fds <= baseline[0] for fds, _ in counts[1:]), counts[::10]
    assert all(sessions == baseline[1] for _, sessions in counts[1:]), counts[::10]
