"""A real Dask cluster on 127.0.0.1: ``dask scheduler`` + ``dask worker`` processes.

Started on demand (by the tests that need a cluster, or ``python -m devstack dask up``),
not by ``devstack up``: most tests never need it. Each worker is its own process
(``--no-nanny``: ``kill -9`` of its PID kills it for good) with its own environment, from
which it resolves the plan's secret references; the scheduler records every task payload
it receives (``dask_capture.py``) for the secret-capture test. Stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devstack import procs
from devstack.config import HOST, PORT_OFFSET, stack_dir, venv_bin
from devstack.dask_tls import TlsFiles, ensure_certs
from devstack.errors import DevstackError

DASK_PORT = 8786 + PORT_OFFSET
#: Every worker without Dask's statistical profiler: it deadlocks CPython 3.11 before 3.11.9
#: (python/cpython#106883; hdh_migrate.execution.dask_cluster.WORKER_CONFIG says more).
WORKER_ENV = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
START_TIMEOUT = 90.0
_PRELOAD = Path(__file__).with_name("dask_capture.py")


@dataclass
class DaskCluster:
    """One scheduler and its workers, by PID. ``capture`` holds the scheduler's record of
    every task payload it received."""

    name: str
    home: Path
    port: int
    scheduler_pid: int
    worker_pids: list[int] = field(default_factory=list)

    tls: TlsFiles | None = None

    @property
    def address(self) -> str:
        return f"{'tls' if self.tls else 'tcp'}://{HOST}:{self.port}"

    @property
    def capture(self) -> Path:
        return self.home / "capture.bin"

    def kill_worker(self, index: int) -> int:
        """``kill -9`` worker ``index`` (it stays dead until the next ``ensure``)."""
        pid = self.worker_pids[index]
        if procs.matches(pid, _markers(self.home)):
            os.kill(pid, signal.SIGKILL)
        return pid

    def kill_scheduler(self) -> None:
        if procs.matches(self.scheduler_pid, _markers(self.home)):
            os.kill(self.scheduler_pid, signal.SIGKILL)

    def stop(self) -> None:
        for pid in [*self.worker_pids, self.scheduler_pid]:
            procs.stop(pid, _markers(self.home))
        for pid_file in self.home.glob("*.pid"):
            pid_file.unlink(missing_ok=True)


def ensure(
    env: dict[str, str],
    *,
    name: str = "dask",
    port: int = DASK_PORT,
    workers: int = 2,
    threads: int = 2,
    drop_env: Iterable[str] = (),
    root: Path | None = None,
    tls: bool = False,
) -> DaskCluster:
    """Reuse the cluster ``name`` if its scheduler and every worker are alive, else (re)start
    what is missing. ``env`` is each worker's environment (its secrets); ``drop_env`` names
    variables removed from it (a worker that lacks a secret); ``tls`` = mutual TLS with
    certificates of a CA made for this cluster."""
    home = (root or stack_dir()) / name
    home.mkdir(parents=True, exist_ok=True)
    files = ensure_certs(home / "tls") if tls else None
    flags = _tls_flags(files)
    scheduler = _alive(home / "scheduler.pid", home)
    if scheduler is None:
        _stop_workers(home, workers)
        scheduler = _start_scheduler(home, port, flags)
    worker_env = {k: v for k, v in env.items() if k not in set(drop_env)}
    pids = []
    for index in range(workers):
        pid = _alive(home / f"worker-{index}.pid", home)
        if pid is not None and not _profiler_off(pid):  # started by an older devstack
            procs.stop(pid, _markers(home))
            pid = None
        if pid is None:
            pid = _start_worker(home, port, index, threads, worker_env, flags)
        pids.append(pid)
    cluster = DaskCluster(name, home, port, scheduler, pids, files)
    _wait_for_workers(cluster, workers)
    return cluster


def stop(name: str = "dask", root: Path | None = None) -> list[int]:
    """Stop the cluster ``name`` by its PID files; the PIDs stopped."""
    home = (root or stack_dir()) / name
    stopped = []
    for pid_file in sorted(home.glob("*.pid")):
        pid = procs.read_pid(pid_file)
        if pid is not None and procs.stop(pid, _markers(home)):
            stopped.append(pid)
        pid_file.unlink(missing_ok=True)
    return stopped


def stop_all(root: Path) -> list[tuple[str, int, bool]]:
    """Stop every cluster under the stack directory (``python -m devstack down``)."""
    stopped = []
    for scheduler in sorted(root.glob("*/scheduler.pid")):
        home = scheduler.parent
        for pid_file in sorted(home.glob("*.pid")):
            pid = procs.read_pid(pid_file)
            if pid is not None:
                label = f"{home.name}/{pid_file.stem}"
                stopped.append((label, pid, procs.stop(pid, _markers(home))))
            pid_file.unlink(missing_ok=True)
    return stopped


def _markers(home: Path) -> list[str]:
    return ["dask", str(home)]


def _alive(pid_file: Path, home: Path) -> int | None:
    pid = procs.read_pid(pid_file)
    return pid if pid is not None and procs.matches(pid, _markers(home)) else None


def _profiler_off(pid: int) -> bool:
    """Whether the worker ``pid`` runs with WORKER_ENV (read from /proc)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return True  # not readable here: leave it be
    wanted = [f"{k}={v}".encode() for k, v in WORKER_ENV.items()]
    return all(item in environ for item in wanted)


def _dask() -> str:
    path = venv_bin("dask")
    if not path.exists():
        found = shutil.which("dask")
        if found is None:
            raise DevstackError("dask", "the `dask` command is missing: pip install distributed")
        return found
    return str(path)


def _tls_flags(files: TlsFiles | None) -> list[str]:
    if files is None:
        return []
    return [
        "--tls-ca-file",
        str(files.ca),
        "--tls-cert",
        str(files.cert),
        "--tls-key",
        str(files.key),
    ]


def _start_scheduler(home: Path, port: int, flags: list[str]) -> int:
    if procs.port_open(HOST, port):
        raise DevstackError(
            "dask", f"port {HOST}:{port} is already in use by a process we did not start"
        )
    cmd = [
        _dask(), "scheduler", "--host", HOST, "--port", str(port), "--no-dashboard",
        "--preload", str(_PRELOAD), "--pid-file", str(home / "scheduler.own.pid"),
        *(["--protocol", "tls", *flags] if flags else []),
    ]  # fmt: skip
    env = {**os.environ, "HDH_DASK_CAPTURE": str(home / "capture.bin")}
    pid = procs.spawn(cmd, home / "scheduler.log", env)
    (home / "scheduler.pid").write_text(f"{pid}\n")
    deadline = time.monotonic() + START_TIMEOUT
    while not procs.port_open(HOST, port):
        if not procs.matches(pid, _markers(home)) or time.monotonic() > deadline:
            raise DevstackError("dask", "the scheduler did not start", home / "scheduler.log")
        time.sleep(0.2)
    return pid


def _start_worker(
    home: Path, port: int, index: int, threads: int, env: dict[str, str], flags: list[str]
) -> int:
    scheme = "tls" if flags else "tcp"
    local = home / f"worker-{index}"
    local.mkdir(parents=True, exist_ok=True)
    cmd = [
        _dask(), "worker", f"{scheme}://{HOST}:{port}", "--host", HOST, "--nthreads", str(threads),
        "--no-nanny", "--no-dashboard", "--name", f"w{index}", "--local-directory", str(local),
        "--death-timeout", "30", *flags,
    ]  # fmt: skip
    pid = procs.spawn(cmd, home / f"worker-{index}.log", {**env, **WORKER_ENV})
    (home / f"worker-{index}.pid").write_text(f"{pid}\n")
    return pid


def _stop_workers(home: Path, workers: int) -> None:
    for index in range(workers):
        pid = procs.read_pid(home / f"worker-{index}.pid")
        if pid is not None:
            procs.stop(pid, _markers(home))


def _wait_for_workers(cluster: DaskCluster, count: int) -> None:
    from distributed import Client
    from distributed.security import Security

    files = cluster.tls
    security = (
        Security(tls_ca_file=str(files.ca), tls_client_cert=str(files.cert),
                 tls_client_key=str(files.key), require_encryption=True)
        if files else None
    )  # fmt: skip
    with Client(cluster.address, timeout=30, security=security, set_as_default=False) as client:
        try:
            client.wait_for_workers(count, timeout=START_TIMEOUT)
        except TimeoutError as exc:
            raise DevstackError(
                "dask",
                f"{count} workers did not join {cluster.address}",
                cluster.home / "worker-0.log",
            ) from exc
