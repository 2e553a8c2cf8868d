"""One writer per plan state: ``run``, ``verify``, ``cutover`` and ``keys rotate`` hold an
exclusive lock on ``<state_dir>/lock`` for as long as they write the journal and manifest.

The lock is an advisory ``flock`` on an open file: the kernel drops it when the holder
exits, however it exits (``kill -9`` included), so a stale lock file never blocks anyone.
The file holds the holder's PID and host, named in the one-line refusal a second command
gets (``StateLockedError``, exit 9). Readers (``status``, ``audit``, ``restore``) never
take it. On a network file system where ``flock`` is not shared between hosts, the state
directory belongs on local disk anyway (SOV-10).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hdh_migrate.errors import StateError

LOCK_NAME = "lock"


class StateLockedError(StateError):
    """Another command holds the plan's state. The message names its PID and host."""


@contextmanager
def state_lock(root: Path, command: str) -> Iterator[None]:
    """Hold the exclusive lock of the state directory ``root`` (created when missing)."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _acquire(fd, path, command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {command}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def _acquire(fd: int, path: Path, command: str) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StateLockedError(
            f"cannot {command}: {holder(path)} holds the plan's state ({path})",
            hint="wait for it to finish; two commands never write one journal at once",
        ) from None


def holder(path: Path) -> str:
    """``'PID 123 on host (run)'`` from the lock file, as far as it can be read."""
    try:
        fields = path.read_text(encoding="utf-8", errors="replace").split(maxsplit=2)
    except OSError:
        fields = []
    if len(fields) < 2 or not fields[0].isdigit():
        return "another command"
    what = f" ({_printable(fields[2].strip())})" if len(fields) > 2 else ""
    return f"PID {fields[0]} on {_printable(fields[1])}{what}"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:255]
