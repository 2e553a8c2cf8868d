"""``make test`` on two xdist workers: the stack's tests one after the other on one worker,
exactly as in a serial run, the tests that need no server on the other meanwhile.

Why not ``--dist loadgroup`` and an ``xdist_group`` mark: pytest-xdist 3.8 groups by
rewriting ``item._nodeid``, which pytest 9.2 no longer reads (node ids live in
``item._id``), so the mark is silently ignored and stack tests ran side by side — some
kill a server of the shared stack, time a bandwidth cap or count descriptors. Here each
worker writes the node ids of its stack tests to a file the controller names; the
controller's scheduler (``-n N`` with xdist's default ``--dist load``, or ``loadgroup``)
reads them and makes one work unit of them.
A worker that cannot tell it which tests use the stack fails the run instead of letting
them run in parallel.

A test uses the stack when it is marked ``stack`` or asks for the ``stack`` fixture.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

STACK_GROUP = "stack"
_WORKER_INPUT = "hdh_stack_ids_dir"
_DIR_KEY = pytest.StashKey[Path]()


def uses_stack(item: pytest.Item) -> bool:
    """True if ``item`` needs the local server stack."""
    return bool(item.get_closest_marker("stack")) or "stack" in getattr(item, "fixturenames", ())


def _serialising(config: pytest.Config) -> bool:
    # `pytest -n 2` alone means xdist's "load": the stack's tests are grouped there too
    return config.getoption("dist", "no") in ("load", "loadgroup")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: tell each worker where to write the node ids of its stack tests."""
    config = node.config
    if _DIR_KEY not in config.stash:
        config.stash[_DIR_KEY] = Path(tempfile.mkdtemp(prefix="hdh-stack-ids-"))
    node.workerinput[_WORKER_INPUT] = str(config.stash[_DIR_KEY])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Worker: write the node ids of the stack tests it collected (one per line)."""
    where = getattr(config, "workerinput", {}).get(_WORKER_INPUT)
    if where is None:
        return
    worker = config.workerinput["workerid"]  # type: ignore[attr-defined]
    ids = "".join(f"{item.nodeid}\n" for item in items if uses_stack(item))
    partial = Path(where) / f"{worker}.partial"
    partial.write_text(ids, encoding="utf-8")
    partial.rename(Path(where) / f"{worker}.ids")


def stack_ids(where: Path) -> frozenset[str]:
    """The stack tests' node ids the workers wrote in ``where``."""
    files = sorted(where.glob("*.ids"))
    if not files:
        raise pytest.UsageError(
            f"no worker wrote which tests use the stack into {where}: "
            "refusing to run them in parallel (see tests/support/serial_stack.py)"
        )
    return frozenset(line for f in files for line in f.read_text(encoding="utf-8").splitlines())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Controller: under ``--dist load`` (``-n`` alone) or ``loadgroup``, all stack tests
    form one work unit."""
    if not _serialising(config):
        return None
    where = config.stash.get(_DIR_KEY, None)
    if where is None:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class StackSerialScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Each test is its own work unit, except the stack's tests: one unit, in order."""

        _ids: frozenset[str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._ids is None:
                self._ids = stack_ids(where)  # read once every worker has collected
            return STACK_GROUP if nodeid in self._ids else nodeid

    return StackSerialScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Controller: remove the node-id files."""
    where = config.stash.get(_DIR_KEY, None)
    if where is not None:
        for path in where.iterdir():
            path.unlink()
        where.rmdir()
