"""The Dask executor: work units on a Dask distributed cluster, behind the
``concurrent.futures.Executor`` seam. The only module that imports ``dask``/``distributed``.

One code path for one machine and many: without a scheduler address a ``LocalCluster`` of
worker *processes* starts on this machine (every core, the coordinator's GIL out of the
way); with ``tcp://``/``tls://HOST:PORT`` the client joins an existing cluster.

What Dask does not give, this module adds (docs/scale-out.md):

- deterministic task keys (``fn-<token of the arguments>``): a double submission collapses
  into one task; Dask-level retries are off (the journal owns retries);
- futures are released as soon as their result is handed over, so the scheduler never holds
  more than the coordinator's window;
- losing the scheduler mid-run fails every pending future with ``UnreachableError`` (exit 8):
  the journal is the source of truth, re-running resumes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from dask.base import tokenize
from distributed import Client, LocalCluster
from distributed import Future as DaskFuture
from distributed.scheduler import KilledWorker
from distributed.security import Security

from hdh_migrate.errors import UnreachableError, UsageError
from hdh_migrate.execution.executors import DaskSettings

T = TypeVar("T")

IDLE_TIMEOUT = 300.0  # seconds to wait for a previous coordinator's tasks to end
CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler (and to reconnect after a loss)
_LOST = "lost the connection to the Dask scheduler at {address} mid-run"
_LOST_HINT = "check the scheduler, then re-run: the journal resumes where the run stopped"


class DaskExecutor(Executor):
    """``submit`` → a Dask task with a deterministic key; the returned future is a plain
    ``concurrent.futures.Future`` (so the execution window works unchanged)."""

    remote = True  # tasks run in other processes: submit top-level functions and plain data

    def __init__(self, client: Client, cluster: LocalCluster | None = None) -> None:
        self._client, self._cluster = client, cluster
        self.address = str(client.scheduler.address) if client.scheduler else "?"
        self._lock = threading.Lock()
        self._live: dict[str, DaskFuture[Any]] = {}

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        key = f"{_name(fn)}-{tokenize(fn, args, kwargs)}"
        outer: Future[T] = Future()
        outer.set_running_or_notify_cancel()
        try:
            inner = self._client.submit(fn, *args, key=key, pure=False, retries=0, **kwargs)
        except (OSError, RuntimeError) as exc:  # the client is closed: the scheduler is gone
            raise self._lost() from exc
        with self._lock:
            self._live[key] = inner
        inner.add_done_callback(lambda done: self._settle(key, done, outer))
        return outer

    def _settle(self, key: str, inner: DaskFuture[Any], outer: Future[Any]) -> None:
        with self._lock:
            self._live.pop(key, None)
        try:
            if inner.status == "finished":
                outer.set_result(inner.result())
            elif inner.status == "cancelled":
                outer.set_exception(self._lost())
            else:
                outer.set_exception(_translated(inner.exception()))
        except BaseException as exc:  # noqa: BLE001 — handed to the waiting coordinator
            if not outer.done():
                outer.set_exception(exc)
        finally:
            inner.release()

    def _lost(self) -> UnreachableError:
        return UnreachableError(_LOST.format(address=self.address), hint=_LOST_HINT)

    def worker_count(self) -> int:
        """Workers the scheduler knows now (at least 1)."""
        try:
            info = self._client.scheduler_info(n_workers=-1)
        except (OSError, RuntimeError) as exc:
            raise self._lost() from exc
        return max(1, len(info.get("workers", {})))

    def wait_idle(self, timeout: float = IDLE_TIMEOUT) -> None:
        """Wait until no worker still executes a task: a coordinator killed mid-run leaves
        its running tasks on the workers (Dask cannot interrupt them); their late writes
        would replace objects this run copies and verifies. Gives up after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                busy = self._client.run(_executing)
            except (OSError, RuntimeError) as exc:
                raise self._lost() from exc
            if not any(busy.values()):
                return
            time.sleep(0.5)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            pending = list(self._live.values())
            self._live.clear()
        if cancel_futures and pending and self._client.status == "running":
            self._client.cancel(pending, force=True)
        self._client.close(timeout=CONNECT_TIMEOUT)
        if self._cluster is not None:
            self._cluster.close(timeout=CONNECT_TIMEOUT)


def open_dask(settings: DaskSettings) -> DaskExecutor:
    """Connect to ``settings.scheduler``, or start a local cluster of worker processes."""
    _quiet()
    if settings.scheduler is None:
        return _local(settings)
    security = _security(settings)
    try:
        client = Client(
            settings.scheduler,
            security=security,
            timeout=CONNECT_TIMEOUT,
            set_as_default=False,
        )
    except (OSError, TimeoutError) as exc:
        raise UnreachableError(
            f"no Dask scheduler answers at {settings.scheduler}",
            hint="start it (`dask scheduler`) or fix executor.scheduler in the plan",
        ) from exc
    executor = DaskExecutor(client)
    executor.wait_idle()
    return executor


def _quiet() -> None:
    """Failures reach the user as one line (exit 8), not as distributed's log tracebacks:
    its loggers carry their own levels and handlers, so each one is silenced."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith(("distributed", "tornado"))]
    for name in ["distributed", "tornado", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _security(settings: DaskSettings) -> Security | None:
    if not (settings.scheduler or "").startswith("tls://"):
        return None
    if not (settings.tls_ca_file and settings.tls_cert_file and settings.tls_key_file):
        raise UsageError(
            "a tls:// Dask scheduler needs certificates",
            hint="set executor.tls: {ca_file, cert_file, key_file} in the plan",
        )
    return Security(
        tls_ca_file=settings.tls_ca_file,
        tls_client_cert=settings.tls_cert_file,
        tls_client_key=settings.tls_key_file,
        require_encryption=True,
    )


def _local(settings: DaskSettings) -> DaskExecutor:
    cluster = LocalCluster(
        n_workers=max(1, settings.workers),
        threads_per_worker=max(1, settings.threads_per_worker),
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # its HTTP server: any port
    )
    return DaskExecutor(Client(cluster, set_as_default=False), cluster)


def _executing(dask_worker: Any) -> int:
    """Tasks a worker is running now (called on each worker by ``Client.run``)."""
    return len(dask_worker.state.executing)


def _translated(exc: BaseException | None) -> BaseException:
    """A task's exception as the coordinator should see it: ours as is, a task that killed
    every worker it ran on as a one-line ``UnreachableError``."""
    if isinstance(exc, KilledWorker):
        return UnreachableError(
            "a Dask task killed every worker it ran on (out of memory?)",
            hint="check the workers' logs and memory limits, then re-run",
        )
    return exc or RuntimeError("the Dask task failed without an exception")


def _name(fn: Callable[..., Any]) -> str:
    inner = getattr(fn, "func", fn)  # functools.partial
    return str(getattr(inner, "__name__", "task"))
