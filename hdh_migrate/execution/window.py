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


def imap_batched(
    executor: Executor,
    fn: Callable[[list[T]], list[R]],
    items: Iterable[T],
    window: int,
    weigh: Callable[[T], int],
    max_items: int = 64,
    max_weight: int = 4 << 20,
) -> Iterator[tuple[T, Future[R]]]:
    """Like ``imap_unordered``, but ``fn`` takes a list of items and returns their results in
    order: small items travel together (at most ``max_items`` or ``max_weight``), an item
    of ``max_weight`` or more alone. One task per batch keeps a scheduler's per-task
    overhead off small objects; each item still gets its own done future."""
    batches = _batches(items, weigh, max_items, max_weight)
    for batch, future in imap_unordered(executor, fn, batches, window):
        error = future.exception()
        results: list[R | None] = list(future.result()) if error is None else [None] * len(batch)
        for item, result in zip(batch, results, strict=True):
            yield item, _settled(result, error)


def _batches(
    items: Iterable[T], weigh: Callable[[T], int], max_items: int, max_weight: int
) -> Iterator[list[T]]:
    batch: list[T] = []
    weight = 0
    for item in items:
        size = weigh(item)
        if size >= max_weight:
            yield [item]
            continue
        batch.append(item)
        weight += size
        if len(batch) >= max_items or weight >= max_weight:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def _settled(result: R | None, error: BaseException | None) -> Future[R]:
    future: Future[R] = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
    return future
