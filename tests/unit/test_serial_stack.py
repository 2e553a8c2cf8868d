"""`make test`'s two workers keep every stack test on one worker, one after the other.

A nested pytest (``-n 2 --dist loadgroup``, the Makefile's options) over generated tests:
stack tests by mark, by module mark and by the ``stack`` fixture, and tests that need no
server. pytest-xdist's own ``xdist_group`` mark is silently ignored under pytest 9.2 (this
test failed with it: stack tests ran on both workers, side by side).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
import pytest
pytest_plugins = ["tests.support.serial_stack"]

@pytest.fixture
def stack():
    return "the stack"
"""
MARKED = """
import time, pytest
@pytest.mark.stack
@pytest.mark.parametrize("i", range(6))
def test_marked(i):
    time.sleep(0.2)

@pytest.mark.parametrize("i", range(8))
def test_free(i):
    time.sleep(0.2)

def test_fixture(stack):
    time.sleep(0.2)
"""
MODULE = """
import time, pytest
pytestmark = [pytest.mark.stack]
def test_one(): time.sleep(0.2)
def test_two(): time.sleep(0.2)
"""


@pytest.mark.parametrize("dist", [["--dist", "loadgroup"], []], ids=["makefile", "n-alone"])
def test_stack_tests_run_on_one_worker_in_order_the_others_alongside(
    tmp_path: Path, dist: list[str]
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_marked.py").write_text(MARKED)
    (suite / "test_module.py").write_text(MODULE)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(scratch)}
    options = ["-v", "-p", "no:randomly", "-p", "no:cacheprovider"]
    options += ["-n", "2", *dist]  # the Makefile's, or `pytest -n 2` alone
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *options, "--rootdir", str(suite), str(suite)],
        capture_output=True,
        text=True,
        env=env,
        cwd=suite,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran = re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED (\S+)", done.stdout)
    stack = [(w, t) for w, t in ran if "free" not in t]
    free = [(w, t) for w, t in ran if "free" in t]
    assert len(stack) == 9 and len(free) == 8, done.stdout
    assert len({w for w, _ in stack}) == 1, stack  # one worker for the whole stack group
    order = [t.split("::", 1)[1] for _, t in stack]
    expected = [f"test_marked[{i}]" for i in range(6)] + ["test_fixture"]
    expected += ["test_one", "test_two"]
    assert order == expected  # one after the other, in collection order
    assert {w for w, _ in free} - {stack[0][0]}, free  # the other worker ran the rest
    assert not [p for p in scratch.iterdir() if p.name.startswith("hdh-stack-ids-")]
