"""Separate hosts for real: a Dask scheduler and workers, each in its own network namespace.

``NetLab`` builds, for one test, with names ``hdhs<tag>…`` that collide with nothing::

    switch namespace   two bridges: "cluster" (scheduler, workers, the coordinator)
                       and "storage" (workers, the servers)
    hdhs<tag>s         the scheduler, 10.P.Q.2 on the cluster network
    hdhs<tag>w<i>      worker i, 10.P.Q.(3+i) on the cluster network and 10.P.(Q+1).(3+i)
                       on the storage network (cutting its cluster link leaves it copying)
    root namespace     the coordinator (this process) at 10.P.Q.1; ``Forwarder``s at
                       10.P.(Q+1).1 relay the storage network to the servers, which listen
                       on 127.0.0.1 only, and count the bytes each worker sends

A server's ``127.0.0.1:PORT`` is also ``127.0.0.1:PORT`` inside each worker namespace (a
relay process there → the storage network → the root relay): the workers' environment
names the same endpoints as the coordinator's, and plain ``http://`` stays on a loopback.

The cluster speaks ``tls://`` with certificates issued by the devstack's CA (server and
client use, the namespace addresses as names). ``close()`` removes every namespace, link
and process it made, in any state. Needs root and iproute2; ``unavailable()`` says why not.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack import procs
from devstack.config import stack_dir, venv_bin
from devstack.dask_cluster import WORKER_ENV
from devstack.dask_tls import TlsFiles
from devstack.errors import DevstackError

PREFIX = "hdhs"
START_TIMEOUT = 90.0
_PRELOAD = Path(__file__).with_name("dask_transitions.py")


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    probe = f"{PREFIX}{os.getpid() % 10000:04d}probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()[:200]}"
    _ip("netns", "del", probe, check=False)
    return None


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["ip", *(["-n", ns] if ns else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    if check and done.returncode != 0:
        raise DevstackError("netns", f"{' '.join(command)}: {done.stderr.strip()}")
    return done


def _free_subnet() -> tuple[int, int]:
    """(P, Q): 10.P.Q.0/24 and 10.P.(Q+1).0/24 are used by no route of this machine."""
    routes = _ip("-4", "route", "show", "table", "all").stdout + _ip("-4", "addr").stdout
    for _ in range(200):
        p, q = random.randint(160, 250), random.randrange(0, 254, 2)
        if f"10.{p}.{q}." not in routes and f"10.{p}.{q + 1}." not in routes:
            return p, q
    raise DevstackError("netns", "no free 10.x.y.0/24 subnet for the test's namespaces")


class Forwarder:
    """A TCP relay bound to ``(host, port)`` (0: any free port) → ``target``; counts the
    bytes received from each peer address, with the time of the last one."""

    def __init__(self, host: str, target: tuple[str, int], port: int = 0) -> None:
        self.target = target
        self.sent: dict[str, int] = {}
        self.last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server((host, port))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def last_seen(self, address: str) -> float:
        """``time.monotonic()`` of the last bytes received from ``address`` (0: never)."""
        with self._lock:
            return self.last.get(address, 0.0)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, peer = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for args in ((client, upstream, peer[0]), (upstream, client, None)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, peer: str | None) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                if peer is not None:
                    with self._lock:
                        self.sent[peer] = self.sent.get(peer, 0) + len(chunk)
                        self.last[peer] = time.monotonic()
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()


@dataclass
class NetLab:
    """Namespaces, links, relays and Dask processes of one test; ``close()`` removes them."""

    tag: str
    home: Path
    workers: int
    p: int = 0
    q: int = 0
    namespaces: list[str] = field(default_factory=list)
    root_links: list[str] = field(default_factory=list)
    forwarders: list[Forwarder] = field(default_factory=list)
    scheduler_pid: int | None = None
    worker_pids: list[int] = field(default_factory=list)
    relay_pids: list[int] = field(default_factory=list)
    tls: TlsFiles | None = None
    port: int = 8786

    # ------------------------------------------------------------- addresses

    @property
    def coordinator_ip(self) -> str:
        return f"10.{self.p}.{self.q}.1"

    @property
    def scheduler_ip(self) -> str:
        return f"10.{self.p}.{self.q}.2"

    def worker_ip(self, index: int) -> str:
        return f"10.{self.p}.{self.q}.{3 + index}"

    def worker_storage_ip(self, index: int) -> str:
        return f"10.{self.p}.{self.q + 1}.{3 + index}"

    @property
    def storage_ip(self) -> str:
        return f"10.{self.p}.{self.q + 1}.1"

    @property
    def address(self) -> str:
        return f"tls://{self.scheduler_ip}:{self.port}"

    def ns(self, role: str) -> str:
        return f"{PREFIX}{self.tag}{role}"

    # ------------------------------------------------------------- building

    def build(self) -> None:
        """The namespaces, the two bridges and every link (addresses up)."""
        self.p, self.q = _free_subnet()
        switch = self.ns("sw")
        for role in ["sw", "s", *(f"w{i}" for i in range(self.workers))]:
            _ip("netns", "add", self.ns(role))
            self.namespaces.append(self.ns(role))
            _ip("link", "set", "lo", "up", ns=self.ns(role))
        for bridge in ("brc", "brs"):
            _ip("link", "add", "name", bridge, "type", "bridge", ns=switch)
            _ip("link", "set", bridge, "up", ns=switch)
        self._link("rc", None, self.coordinator_ip, "brc")
        self._link("rs", None, self.storage_ip, "brs")
        self._link("sc", self.ns("s"), self.scheduler_ip, "brc")
        for i in range(self.workers):
            self._link(f"w{i}c", self.ns(f"w{i}"), self.worker_ip(i), "brc")
            self._link(f"w{i}s", self.ns(f"w{i}"), self.worker_storage_ip(i), "brs")

    def _link(self, name: str, ns: str | None, address: str, bridge: str) -> None:
        """A veth pair: ``<tag><name>`` in ``ns`` (None: the root namespace) with
        ``address``/24, its peer on ``bridge`` in the switch namespace."""
        here, peer = f"{PREFIX}{self.tag}{name}", f"{PREFIX}{self.tag}{name}p"
        _ip("link", "add", "name", here, "type", "veth", "peer", "name", peer)
        if ns is None:
            self.root_links.append(here)
        else:
            _ip("link", "set", here, "netns", ns)
        _ip("link", "set", peer, "netns", self.ns("sw"))
        _ip("link", "set", peer, "master", bridge, ns=self.ns("sw"))
        _ip("link", "set", peer, "up", ns=self.ns("sw"))
        _ip("addr", "add", f"{address}/24", "dev", here, ns=ns)
        _ip("link", "set", here, "up", ns=ns)

    def cut(self, index: int) -> None:
        """Worker ``index`` loses the cluster network (it keeps the storage network)."""
        _ip("link", "set", f"{PREFIX}{self.tag}w{index}c", "down", ns=self.ns(f"w{index}"))

    def relay(self, port: int) -> Forwarder:
        """Server ``127.0.0.1:port`` of the root namespace, at the same address and port in
        every worker namespace: a relay process there (plain http stays on a loopback, as
        the backends require) → the storage network → a relay here → the server."""
        made = Forwarder(self.storage_ip, ("127.0.0.1", port))
        self.forwarders.append(made)
        for i in range(self.workers):
            command = [
                "ip", "netns", "exec", self.ns(f"w{i}"), sys.executable, "-m", "devstack.netns",
                "relay", str(port), self.storage_ip, str(made.port), str(self.home),
            ]  # fmt: skip
            pid = procs.spawn(command, self.home / f"relay-w{i}-{port}.log")
            self.relay_pids.append(pid)
            self._wait(lambda i=i: _listening(self.ns(f"w{i}"), port), "a relay did not start")
        return made

    # ------------------------------------------------------------- Dask

    def start_dask(
        self, env: Mapping[str, str], worker_env: Mapping[str, str], *, threads: int = 2
    ) -> None:
        """``dask scheduler`` in its namespace, ``dask worker``s in theirs, over TLS."""
        self.tls = self._certificates()
        flags = ["--tls-ca-file", str(self.tls.ca), "--tls-cert", str(self.tls.cert),
                 "--tls-key", str(self.tls.key)]  # fmt: skip
        dask = str(venv_bin("dask"))
        scheduler = [
            "ip", "netns", "exec", self.ns("s"), dask, "scheduler", "--protocol", "tls",
            "--host", self.scheduler_ip, "--port", str(self.port), "--no-dashboard",
            "--preload", str(_PRELOAD), *flags,
        ]  # fmt: skip
        log = self.home / "transitions.jsonl"
        sched_env = {**env, "HDH_DASK_TRANSITIONS": str(log)}
        self.scheduler_pid = procs.spawn(scheduler, self.home / "scheduler.log", sched_env)
        self._wait(lambda: _listening(self.ns("s"), self.port), "the scheduler did not start")
        for i in range(self.workers):
            local = self.home / f"worker-{i}"
            local.mkdir(parents=True, exist_ok=True)
            worker = [
                "ip", "netns", "exec", self.ns(f"w{i}"), dask, "worker", self.address,
                "--host", self.worker_ip(i), "--nthreads", str(threads), "--no-nanny",
                "--no-dashboard", "--name", f"w{i}", "--local-directory", str(local),
                "--death-timeout", "30", *flags,
            ]  # fmt: skip
            logs = self.home / f"worker-{i}.log"
            self.worker_pids.append(procs.spawn(worker, logs, {**worker_env, **WORKER_ENV}))

    def _certificates(self) -> TlsFiles:
        """One certificate (server and client use) for every address, from the devstack CA."""
        from devstack import creds, tls

        ca = tls.load_authority(stack_dir())
        names = (self.scheduler_ip, self.coordinator_ip,
                 *(self.worker_ip(i) for i in range(self.workers)))  # fmt: skip
        cert, key = tls.issue(ca, names, client=True)
        files = TlsFiles(stack_dir() / "tls" / "ca.pem", self.home / "node.pem",
                         self.home / "node-key.pem")  # fmt: skip
        files.cert.write_bytes(cert)
        creds.write_private(files.key, key)
        return files

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if time.monotonic() > deadline:
                raise DevstackError("netns", what, self.home / "scheduler.log")
            time.sleep(0.2)

    def worker_alive(self, index: int) -> bool:
        return procs.matches(self.worker_pids[index], ["dask", str(self.home)])

    # ------------------------------------------------------------- teardown

    def close(self) -> None:
        """Stop the processes, the relays; delete the namespaces and root links."""
        for pid in [*self.worker_pids, *([self.scheduler_pid] if self.scheduler_pid else [])]:
            procs.stop(pid, ["dask", str(self.home)], grace=3.0)
        for pid in self.relay_pids:
            procs.stop(pid, ["devstack.netns", str(self.home)], grace=3.0)
        for forwarder in self.forwarders:
            forwarder.close()
        for ns in reversed(self.namespaces):
            _ip("netns", "del", ns, check=False)
        mine = f"{PREFIX}{self.tag}"  # also a pair left half-made by a failed build
        listed = _ip("-o", "link", "show", check=False).stdout.splitlines()
        names = {line.split(":")[1].strip().split("@")[0] for line in listed if ":" in line}
        for link in sorted({*self.root_links, *(n for n in names if n.startswith(mine))}):
            if _ip("link", "show", link, check=False).returncode == 0:
                _ip("link", "del", link, check=False)


def _listening(ns: str, port: int) -> bool:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "ss", "-ltnH", f"sport = :{port}"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    return bool(out.stdout.strip())


def executing(dask_worker: Any) -> list[str]:
    """Keys of the tasks a worker executes now (called on it by ``Client.run``)."""
    return [str(ts.key) for ts in dask_worker.state.executing]


def namespaces() -> list[str]:
    """Every network namespace of this machine, by name."""
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def new_lab(home: Path, workers: int = 2) -> NetLab:
    """A lab with a fresh tag (``hdhs`` + 4 hex digits) under ``home``; call ``build()``."""
    home.mkdir(parents=True, exist_ok=True)
    return NetLab(tag=f"{random.getrandbits(16):04x}", home=home, workers=workers)


def _relay_main(argv: list[str]) -> int:
    """``python -m devstack.netns relay PORT HOST HOST_PORT HOME``: 127.0.0.1:PORT → HOST:HOST_PORT
    until killed (HOME only marks the process as the lab's)."""
    port, host, host_port = int(argv[0]), argv[1], int(argv[2])
    relay = Forwarder("127.0.0.1", (host, host_port), port=port)
    try:
        while True:
            time.sleep(3600)
    finally:
        relay.close()


if __name__ == "__main__":
    if sys.argv[1:2] != ["relay"] or len(sys.argv) != 6:
        sys.exit("usage: python -m devstack.netns relay PORT HOST HOST_PORT HOME")
    sys.exit(_relay_main(sys.argv[2:]))
