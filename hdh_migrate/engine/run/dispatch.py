"""How the coordinator hands work units to its executor.

In-process executors (serial, threads) call the unit with the coordinator's client cache.
A remote executor (Dask) gets ``run_units``: a top-level function, the unit by reference,
a batch of small items or one large item (one task per batch: a scheduler's per-task
overhead would otherwise bound small objects), and this worker's share of the run's
bandwidth limit: the plan's limit bounds the whole run, split evenly across the workers
the scheduler knows when the phase starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any, TypeVar

from hdh_migrate.execution import imap_batched, imap_unordered, is_remote, worker_count
from hdh_migrate.stages import throttle
from hdh_migrate.stages.clients import Clients
from hdh_migrate.stages.worker import run_unit, run_units

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


def map_units(
    executor: Executor, clients: Clients, unit: Callable[..., R], items: Iterable[T], window: int
) -> Iterator[tuple[T, Future[R]]]:
    """``(item, done future)`` for every item, at most ``window`` tasks in flight."""
    if not is_remote(executor):
        return imap_unordered(executor, partial(unit, clients=clients), items, window)
    share = worker_share(throttle.current_rate(), executor)
    batch = partial(run_units, unit, rate=share)
    return imap_batched(executor, batch, items, window, weight)


def weight(item: Any) -> int:
    """Bytes a work unit moves (copy: the object; verify: the plaintext; others: none)."""
    return int(getattr(item, "size", 0) or getattr(item, "plaintext_size", 0) or 0)
