"""Detached service processes: spawn, remember by PID file, recognise, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# `setsid` execs the command in place (a background child is never a group leader),
# so the PID the shell prints is the service's own PID. The service is not our
# child: no zombies in long-lived callers (pytest), no ResourceWarning from Popen.
_LAUNCH = 'log=$1; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!'


def spawn(cmd: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> int:
    """Start ``cmd`` detached in its own session, output appended to ``log``; return PID."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        ["sh", "-c", _LAUNCH, "sh", str(log), *cmd],
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def cmdline(pid: int) -> list[str]:
    """The argv of a live, non-zombie process, or [] when there is none.

    A process in the middle of ``execve`` (``setsid`` becoming the service) reads
    as an empty command line for an instant: a live process with no argv is read
    again for up to 0.2 s before it counts as gone.
    """
    for _ in range(100):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return []
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, IndexError):
            return []
        if raw:
            return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
        time.sleep(0.002)
    return []


def matches(pid: int, markers: Sequence[str]) -> bool:
    """True if ``pid`` is alive and its command line contains every marker."""
    joined = " ".join(cmdline(pid))
    return bool(joined) and all(marker in joined for marker in markers)


def read_pid(path: Path) -> int | None:
    """The PID saved in ``path``, or None."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def stop(pid: int, markers: Sequence[str], grace: float = 5.0) -> bool:
    """SIGTERM (then SIGKILL) ``pid`` only if its command line matches; True if stopped."""
    if not matches(pid, markers):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not cmdline(pid):
            return True
        time.sleep(0.05)
    if matches(pid, markers):
        os.kill(pid, signal.SIGKILL)
    return True


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


LOG_MARK = "=== devstack start"


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log since its last start mark ('' if absent)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    recent = (
        text.rsplit(LOG_MARK, 1)[-1].splitlines()[1:] if LOG_MARK in text else text.splitlines()
    )
    return "\n".join(recent[-lines:])


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
