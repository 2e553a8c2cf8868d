"""How a work unit runs in a worker process of a remote executor (a Dask worker).

The coordinator submits ``run_unit(fn, item, rate)``: a top-level function, a plain item
(``Spec``s with secret *references*, never secrets or clients) and this worker's share of
the run's bandwidth limit. The worker builds its clients once per process
(``stages.clients.PROCESS_CLIENTS``, keyed by each spec's digest) and resolves the
references from its own environment or files; a missing secret fails the object with a
one-line error naming the reference. The result is a plain record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hdh_migrate.stages import throttle

T = TypeVar("T")
R = TypeVar("R")


def run_unit(fn: Callable[[T], R], item: T, rate: int = 0) -> R:
    """Run ``fn(item)`` with this process's bandwidth set to ``rate`` bytes/s (0 = none)."""
    throttle.use_rate(rate)
    return fn(item)


def run_units(fn: Callable[[T], R], items: list[T], rate: int = 0) -> list[R]:
    """``run_unit`` over a batch of small items, in order (one task, many objects)."""
    throttle.use_rate(rate)
    return [fn(item) for item in items]
