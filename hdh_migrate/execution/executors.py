"""Executor factory: ``serial`` (tests, debugging), ``threads`` (default), ``dask``.

The seam is ``concurrent.futures.Executor``; Dask fits through ``Client.get_executor()``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from hdh_migrate.errors import UsageError

T = TypeVar("T")


class SerialExecutor(Executor):
    """Runs each task at submit time in the caller's thread (s3transfer's NonThreadedExecutor)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 — the future carries it, as a pool would
            future.set_exception(exc)
        return future


def make_executor(kind: str = "threads", workers: int = 8) -> Executor:
    """An executor of the given kind. ``dask`` is not available in this build."""
    if kind == "serial":
        return SerialExecutor()
    if kind == "threads":
        return ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="hdh-copy")
    raise UsageError(
        f"executor kind {kind!r} is not available", hint="use executor.kind: threads or serial"
    )
