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
  the journal is the source of truth, re-running resumes;
- progress counters relayed while tasks run (``relay``): each worker process sends the
  deltas of its counters (bytes read so far) every half second as a Dask event; the
  coordinator adds them to its own, so a bar moves inside a large object on any worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ClassVar, TypeVar

import dask.config
from dask.base import tokenize
from distributed import Client, LocalCluster, get_worker
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
RELAY_TOPIC = "hdh-migrate-progress"
RELAY_INTERVAL = 0.5  # seconds between a worker's progress events (while counters move)

_ENDED = frozenset({"stopping", "stopped", "closing", "closing_gracefully", "closed", "failed"})

#: A counter: (name, sub-name, running total), e.g. (dataset, phase, bytes read).
Counts = list[tuple[str, str, int]]


class DaskExecutor(Executor):
    """``submit`` → a Dask task with a deterministic key; the returned future is a plain
    ``concurrent.futures.Future`` (so the execution window works unchanged)."""

    remote = True  # tasks run in other processes: submit top-level functions and plain data

    def __init__(self, client: Client, cluster: LocalCluster | None = None) -> None:
        self._client, self._cluster = client, cluster
        self.address = str(client.scheduler.address) if client.scheduler else "?"
        self._lock = threading.Lock()
        self._live: dict[str, DaskFuture[Any]] = {}
        self._read: Callable[[], Counts] | None = None

    def relay(self, read: Callable[[], Counts], add: Callable[[str, str, int], None]) -> None:
        """While tasks run, relay counters from the workers: ``read`` (a top-level function,
        called in each worker process) gives that process's running totals; their growth
        is sent as Dask events (bounded: one small message per worker and half second,
        only when something moved) and passed to ``add`` here."""
        self._read = read
        self._client.subscribe_topic(RELAY_TOPIC, lambda event: _apply(event, add))

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        key = f"{_name(fn)}-{tokenize(fn, args, kwargs)}"
        outer: Future[T] = Future()
        outer.set_running_or_notify_cancel()
        call = (fn, *args) if self._read is None else (_relayed, self._read, fn, *args)
        try:
            inner = self._client.submit(*call, key=key, pure=False, retries=0, **kwargs)
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


#: What every worker this tool starts runs with. Dask's statistical profiler samples
#: ``sys._current_frames()`` every 10 ms, which deadlocks CPython 3.11 before 3.11.9 (the GIL
#: against the runtime's HEAD_LOCK during a garbage collection: python/cpython#106883,
#: dask/distributed#8616): a worker froze mid-verify with every thread waiting for the GIL.
#: The profile only feeds Dask's dashboard, which this tool does not use.
#: Workers started by hand or by scripts: ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False``
#: in their environment (docs/scale-out.md; the devstack's workers have it).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


def _local(settings: DaskSettings) -> DaskExecutor:
    with dask.config.set(WORKER_CONFIG):  # the nannies hand it to their worker processes
        cluster = LocalCluster(
            n_workers=max(1, settings.workers),
            threads_per_worker=max(1, settings.threads_per_worker),
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # its HTTP server: any port
        )
    return DaskExecutor(Client(cluster, set_as_default=False), cluster)


def _relayed(read: Callable[[], Counts], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """In a worker: make sure this process relays ``read``'s counters, then run the task."""
    _Relay.ensure(read)
    return fn(*args, **kwargs)


class _Relay:
    """One daemon thread per worker process and counter source: every ``RELAY_INTERVAL``
    it sends what grew since its last message (nothing when nothing moved)."""

    _running: ClassVar[dict[str, _Relay]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, read: Callable[[], Counts]) -> None:
        self.read, self.worker = read, get_worker()
        self.sent: dict[tuple[str, str], int] = {(a, b): n for a, b, n in read()}

    @classmethod
    def ensure(cls, read: Callable[[], Counts]) -> None:
        name = f"{read.__module__}.{read.__qualname__}"
        with cls._lock:
            if name in cls._running:
                return
            relay = cls._running[name] = cls(read)
        threading.Thread(target=relay.loop, name="hdh-relay", daemon=True).start()

    def loop(self) -> None:
        while self.worker.status.name not in _ENDED:
            time.sleep(RELAY_INTERVAL)
            grown = self.grown()
            if grown:
                try:
                    self.worker.log_event(RELAY_TOPIC, grown)
                except RuntimeError:  # the worker's event loop is gone: it is shutting down
                    return

    def grown(self) -> list[list[Any]]:
        out = []
        for a, b, n in self.read():
            delta = n - self.sent.get((a, b), 0)
            if delta > 0:
                out.append([a, b, delta])
                self.sent[(a, b)] = n
        return out


def _apply(event: Any, add: Callable[[str, str, int], None]) -> None:
    """A relayed message, ``(timestamp, [[name, sub-name, delta], …])``, added here."""
    _, grown = event
    for a, b, delta in grown:
        add(str(a), str(b), int(delta))


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
