"""up / down / status: lock the stack dir, start services in parallel, record what runs."""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack import procs
from devstack.config import (
    AZURITE_KEY,
    HOST,
    external_azurite,
    external_s3,
    stack_dir,
)
from devstack.errors import DevstackError
from devstack.installers import apt_install
from devstack.services.azurite import Azurite, AzuriteTls, ExternalAzurite, connection_string
from devstack.services.base import Context, Service
from devstack.services.rclone import RcloneS3
from devstack.services.seaweed import ExternalS3, SeaweedFS
from devstack.services.softhsm import SoftHsm
from devstack.services.sshd import Sshd, sftp_user
from devstack.stack import Stack, describe, env_sh, from_json, write_json

START_TIMEOUT = 60.0
REUSE_GRACE = 30.0  # a busy server may answer slowly: wait before restarting it


@dataclass(frozen=True)
class Outcome:
    """What ``ensure`` did for one service."""

    service: Service
    pid: int | None
    reused: bool
    seconds: float


def services(ctx: Context) -> list[Service]:
    """The services of the stack, honouring the external-server overrides (an external
    Azurite comes without the HTTPS one: there is then no local Azure over TLS)."""
    azurite: list[Service] = [ExternalAzurite(ctx)] if external_azurite() else [Azurite(ctx)]
    if not external_azurite():
        azurite.append(AzuriteTls(ctx))
    s3: Service = ExternalS3(ctx) if external_s3() else SeaweedFS(ctx)
    return [*azurite, s3, RcloneS3(ctx), Sshd(ctx), SoftHsm(ctx)]


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on the stack dir (serialises concurrent up/down)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def healthy(svc: Service) -> str | None:
    """None if the service passes its health check, else a one-line reason."""
    try:
        svc.health()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def wait_healthy(svc: Service, pid: int | None, timeout: float) -> str | None:
    """Poll the health check until it passes (None) or ``timeout``; fail fast if pid dies."""
    deadline = time.monotonic() + timeout
    while True:
        reason = healthy(svc)
        if reason is None:
            return None
        if pid is not None and not procs.matches(pid, svc.markers()):
            return f"process {pid} exited ({reason})"
        if time.monotonic() > deadline:
            return reason
        time.sleep(0.2)


def running_pid(svc: Service) -> int | None:
    """The saved PID if that process is alive and is ours."""
    pid = procs.read_pid(svc.pid_file)
    return pid if pid is not None and procs.matches(pid, svc.markers()) else None


def start(svc: Service, cmd: list[str]) -> int:
    """Start the daemon after checking that nobody else holds its port; save its PID."""
    if svc.port is not None and procs.port_open(HOST, svc.port):
        reason = f"port {HOST}:{svc.port} is already in use by a process we did not start"
        raise DevstackError(svc.name, reason)
    with svc.log_file.open("a") as log:
        log.write(f"{procs.LOG_MARK} {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(cmd)}\n")
    pid = procs.spawn(cmd, svc.log_file, svc.process_env())
    svc.pid_file.parent.mkdir(parents=True, exist_ok=True)
    svc.pid_file.write_text(f"{pid}\n")
    return pid


def ensure(svc: Service) -> Outcome:
    """Install, configure, reuse-or-start and health-check one service."""
    began = time.monotonic()
    svc.install()
    svc.configure()
    cmd = svc.command()
    if cmd is None:
        reason = wait_healthy(svc, None, svc.external_wait)
        if reason:
            raise svc.fail(reason)
        return Outcome(svc, None, False, time.monotonic() - began)
    pid = running_pid(svc)
    if pid is not None and wait_healthy(svc, pid, REUSE_GRACE) is None:
        return Outcome(svc, pid, True, time.monotonic() - began)
    if pid is not None:
        procs.stop(pid, svc.markers())
    pid = start(svc, cmd)
    reason = wait_healthy(svc, pid, START_TIMEOUT)
    if reason:
        procs.stop(pid, svc.markers())
        raise svc.fail(reason)
    return Outcome(svc, pid, False, time.monotonic() - began)


def _parallel(fn: Callable[[Service], Outcome], items: list[Service]) -> list[Outcome]:
    """Run ``fn`` over services concurrently; after all end, raise every failure as one."""
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [(svc, pool.submit(fn, svc)) for svc in items]
    failures = [_as_error(svc, f.exception()) for svc, f in futures if f.exception()]
    if failures:
        failures[0].others = failures[1:]
        raise failures[0]
    return [f.result() for _, f in futures]


def _as_error(svc: Service, exc: BaseException | None) -> DevstackError:
    if isinstance(exc, DevstackError):
        return exc
    error = svc.fail(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def up(directory: Path | None = None) -> tuple[Stack, list[Outcome]]:
    """Bring every service up (idempotent), write stack.json and env.sh."""
    ctx = Context(directory or stack_dir())
    with locked(ctx.dir):
        items = services(ctx)
        missing = sorted({s.apt_package for s in items if s.apt_package and s.needs_apt()})
        apt_install(missing, ctx.dir / "logs" / "apt.log")
        ctx.s3_keys()  # shared by several services: create before the parallel phase
        ctx.tls()
        outcomes = _parallel(ensure, items)
        stack = _record(ctx, items)
    return stack, outcomes


def _record(ctx: Context, items: list[Service]) -> Stack:
    azurite = next(s for s in items if type(s) in (Azurite, ExternalAzurite))
    azurite_tls = next((s for s in items if isinstance(s, AzuriteTls)), None)
    s3 = next(s for s in items if isinstance(s, SeaweedFS))
    rclone = next(s for s in items if isinstance(s, RcloneS3))
    doc = describe(ctx.dir, azurite.endpoint(), s3.endpoint(), rclone.endpoint(), sftp_user())
    doc["tls"] = {
        "ca_bundle": str(ctx.tls().ca_bundle),
        "s3_endpoint": s3.https_endpoint(),
        "azurite_account_url": azurite_tls.endpoint() if azurite_tls else "",
    }
    doc["services"] = {svc.name: _service_entry(svc) for svc in items}
    write_json(ctx.dir / "stack.json", doc)
    stack = load(ctx.dir)
    assert stack is not None
    (ctx.dir / "env.sh").write_text(env_sh(stack))
    return stack


def _service_entry(svc: Service) -> dict[str, object]:
    """Per-service bookkeeping for stack.json: how to find, reach and debug it."""
    return {
        "endpoint": svc.endpoint(),
        "port": svc.port,
        "managed": svc.command() is not None,
        "pid_file": str(svc.pid_file) if svc.command() is not None else None,
        "log": str(svc.log_file),
        "credentials": svc.credentials(),
    }


def load(directory: Path | None = None) -> Stack | None:
    """The Stack recorded in stack.json, or None when the stack was never brought up."""
    root = directory or stack_dir()
    try:
        doc = json.loads((root / "stack.json").read_text())
        url = doc["azurite"]["account_url"]
        https_url = doc.get("tls", {}).get("azurite_account_url") or ""
        https = connection_string(https_url) if https_url else ""
        return from_json(doc, AZURITE_KEY, connection_string(url), https)
    except (OSError, ValueError, KeyError):
        return None


def status(directory: Path | None = None) -> list[tuple[Service, int | None, str | None]]:
    """(service, pid, reason-or-None) for each service, without starting anything."""
    ctx = Context(directory or stack_dir())
    items = services(ctx)

    def probe(svc: Service) -> tuple[Service, int | None, str | None]:
        pid = running_pid(svc)
        if svc.command() is not None and pid is None:
            return svc, None, "not running"
        return svc, pid, healthy(svc)

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(probe, items))


def down(directory: Path | None = None, purge: bool = False) -> list[tuple[str, int, bool]]:
    """Stop the processes we started (by saved PID, command line checked); purge deletes data."""
    ctx = Context(directory or stack_dir())
    stopped: list[tuple[str, int, bool]] = []
    with locked(ctx.dir):
        for svc in services(ctx):
            pid = procs.read_pid(svc.pid_file)
            if pid is not None:
                stopped.append((svc.name, pid, procs.stop(pid, svc.markers())))
            svc.pid_file.unlink(missing_ok=True)
        from devstack import dask_cluster  # started on demand, stopped with the rest

        stopped += dask_cluster.stop_all(ctx.dir)
        if purge:
            for child in ctx.dir.iterdir():
                if child.name != ".lock":
                    _remove(child)
    return stopped


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
