"""How the coordinator hands a work unit to its executor.

In-process executors (serial, threads) call the unit with the coordinator's client cache.
A remote executor (Dask) gets ``run_unit`` — a top-level function, the unit by reference,
and this worker's share of the run's bandwidth limit: the plan's limit bounds the whole
run, split evenly across the workers the scheduler knows when the phase starts.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

from hdh_migrate.execution import is_remote, worker_count
from hdh_migrate.stages import throttle
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.worker import run_unit

T = TypeVar("T")
R = TypeVar("R")


def task_for(executor: Executor, clients: Clients, unit: Callable[..., R]) -> Callable[[Any], R]:
    """The callable to submit per item: ``unit(item, clients)`` here, ``run_unit`` there."""
    if not is_remote(executor):
        return partial(unit, clients=clients)
    return partial(run_unit, unit, rate=worker_share(throttle.current_rate(), executor))


def worker_share(rate: int, executor: Executor) -> int:
    """Each worker's slice of a run-wide ``rate`` (0 stays unlimited, never below 1 B/s)."""
    if rate <= 0:
        return 0
    return max(1, rate // worker_count(executor))
