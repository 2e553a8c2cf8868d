"""Which executor a run uses, and its window: the plan's ``executor`` section, or the
command line's ``--executor serial|threads|dask|tcp://HOST:PORT|tls://HOST:PORT``.

``threads``: ``concurrency`` threads, window ``2 × concurrency`` (unchanged).
``dask``: a local cluster of ``executor.workers`` processes (default: the cores, at most
``concurrency``) × ``threads_per_worker`` threads, or the cluster at ``executor.scheduler``.
The window is ``concurrency``: the plan's concurrency bounds the whole run's copies in
flight across every worker, and the scheduler never holds more tasks than that.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import Executor
from urllib.parse import urlsplit

from hdh_migrate.errors import UsageError
from hdh_migrate.execution import DaskSettings, make_executor
from hdh_migrate.plan import Plan
from hdh_migrate.plan.types import is_loopback, resolve_text
from hdh_migrate.stages import meter

_SCHEMES = ("tcp://", "tls://")


def open_executor(plan: Plan, override: str | None, concurrency: int) -> tuple[Executor, int]:
    """The run's executor and its window (tasks in flight at most)."""
    kind, scheduler = _choice(plan, override)
    if kind != "dask":
        return make_executor(kind, concurrency), 2 * concurrency
    executor = make_executor("dask", concurrency, dask_settings(plan, scheduler, concurrency))
    relay = getattr(executor, "relay", None)
    if callable(relay):  # the workers' bytes read move this process's bars and heartbeats
        relay(meter.counts, meter.PROCESS_METER.add)
    return executor, concurrency


def dask_settings(plan: Plan, scheduler: str | None, concurrency: int) -> DaskSettings:
    """The plan's executor section as plain Dask settings (TLS paths resolved)."""
    section = plan.executor
    processes = section.workers or max(1, min(os.cpu_count() or 1, concurrency))
    threads = section.threads_per_worker or max(1, math.ceil(concurrency / processes))
    tls = section.tls
    return DaskSettings(
        scheduler=scheduler,
        workers=processes,
        threads_per_worker=threads,
        tls_ca_file=resolve_text(tls.ca_file) if tls else None,
        tls_cert_file=resolve_text(tls.cert_file) if tls else None,
        tls_key_file=resolve_text(tls.key_file) if tls else None,
    )


def _choice(plan: Plan, override: str | None) -> tuple[str, str | None]:
    if override is None:
        return plan.executor.kind, plan.executor.scheduler
    if override.startswith(_SCHEMES):
        return "dask", _checked_address(override)
    if override == "dask":
        return "dask", plan.executor.scheduler
    return override, None


def _checked_address(address: str) -> str:
    """A scheduler given on the command line: tcp:// only to loopback (the plan's audited
    ``executor`` section is the place for a remote cluster, with TLS)."""
    host = urlsplit(address).hostname or ""
    if not host:
        raise UsageError(f"--executor {address!r}: expected tcp://HOST:PORT or tls://HOST:PORT")
    if address.startswith("tcp://") and not is_loopback(host):
        raise UsageError(
            f"--executor: Dask scheduler {host} over tcp:// (plaintext, unauthenticated)",
            hint="use tls://HOST:PORT with executor.tls in the plan; tcp:// only on loopback",
        )
    return address
