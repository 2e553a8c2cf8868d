"""Bounded, windowed execution over any ``concurrent.futures.Executor``.

The coordinator never submits the whole inventory: it keeps at most ``window`` tasks in
flight and refills from a lazy iterator as results arrive (s3transfer's BoundedExecutor,
dvc-objects' ``imap_unordered``). Results come back in completion order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def imap_unordered(
    executor: Executor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[tuple[T, Future[R]]]:
    """Yield ``(item, done_future)`` pairs, never more than ``window`` submitted at once.

    The caller reads ``future.result()`` (which re-raises the task's exception). Closing
    the generator cancels what has not started.
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    source = iter(items)
    pending: dict[Future[R], T] = {}
    try:
        for item in islice(source, window):
            pending[executor.submit(fn, item)] = item
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                for nxt in islice(source, 1):
                    pending[executor.submit(fn, nxt)] = nxt
                yield item, future
    finally:
        for future in pending:
            future.cancel()
