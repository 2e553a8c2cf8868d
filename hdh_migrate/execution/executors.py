"""Executor factory: ``serial`` (tests, debugging), ``threads`` (default), ``dask`` (a local
cluster of worker processes, or an existing cluster by scheduler address).

The seam is ``concurrent.futures.Executor``. An executor whose tasks run in other processes
says so with ``remote = True``: the coordinator then submits top-level functions of plain
data (no clients, no secrets) and splits its run-wide limits across ``worker_count()``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from hdh_migrate.errors import UsageError

T = TypeVar("T")
KINDS = ("serial", "threads", "dask")


@dataclass(frozen=True)
class DaskSettings:
    """How to reach (or start) a Dask cluster. ``scheduler`` None = a local cluster of
    ``workers`` processes × ``threads_per_worker`` threads; ``tls_*`` name the PEM files
    of a ``tls://`` scheduler's mutual TLS."""

    scheduler: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None


class SerialExecutor(Executor):
    """Runs each task at submit time in the caller's thread (s3transfer's NonThreadedExecutor)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 — the future carries it, as a pool would
            future.set_exception(exc)
        return future


def make_executor(
    kind: str = "threads", workers: int = 8, dask: DaskSettings | None = None
) -> Executor:
    """An executor of the given kind; ``dask`` uses ``dask`` settings (default: a local
    cluster of ``workers`` processes)."""
    if kind == "serial":
        return SerialExecutor()
    if kind == "threads":
        return ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="hdh-copy")
    if kind == "dask":
        from hdh_migrate.execution.dask_cluster import open_dask  # dask only when asked

        return open_dask(dask or DaskSettings(workers=workers))
    raise UsageError(
        f"executor kind {kind!r} is not available", hint=f"use one of: {', '.join(KINDS)}"
    )


def is_remote(executor: Executor) -> bool:
    """True when tasks run in other processes (they must be plain, top-level, picklable)."""
    return bool(getattr(executor, "remote", False))


def worker_count(executor: Executor) -> int:
    """How many worker processes share the run's limits (1 for in-process executors)."""
    counter = getattr(executor, "worker_count", None)
    return int(counter()) if callable(counter) else 1
