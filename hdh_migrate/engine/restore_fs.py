"""The restore directory, written safely whatever was planted in it.

Everything below the ``--to`` directory is reached through directory file descriptors
with ``O_NOFOLLOW``: a symbolic link (to a directory or a file) planted in the tree is
never followed, it makes that one object fail. Plaintext is written only to temp files
in one private directory, ``<to>/.hdh-restore-tmp`` (0700, locked while a restore runs,
emptied when the next one starts, so a ``kill -9`` never leaves plaintext behind for
long), created ``O_CREAT|O_EXCL|O_NOFOLLOW`` with mode 0600 under bounded random names.
A file becomes visible only once it matched, by a hard link into its directory (never
replacing an existing name) or, where hard links are missing, a rename after checking the
name is free. Directories are created 0700. Keys that are not a plain relative path
(empty, ``.`` or ``..`` segments, a leading ``/``, NUL, a segment longer than the file
system allows) are refused per object, never for the whole restore.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import stat
from pathlib import Path

from hdh_migrate.errors import UsageError

TEMP_DIR = ".hdh-restore-tmp"
NAME_MAX = 255
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Unsafe(Exception):
    """One object cannot be restored where it would go; the message says why."""


def key_segments(relative: str) -> list[str]:
    """The path segments of a dataset-relative key, or Unsafe."""
    if not relative or relative.startswith("/"):
        raise Unsafe("not a relative path")
    parts = relative.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise Unsafe(f"path segment {part!r} (empty, '.' or '..') cannot be a file name")
        if "\0" in part:
            raise Unsafe("a NUL character cannot be in a file name")
        if len(os.fsencode(part)) > NAME_MAX:
            raise Unsafe(f"a path segment is longer than {NAME_MAX} bytes")
        if part == TEMP_DIR and len(parts) == 1:
            raise Unsafe(f"{TEMP_DIR} is reserved for restore's temp files")
    return parts


class RestoreDir:
    """The open ``--to`` directory and its private temp directory (see module doc)."""

    def __init__(self, root: Path) -> None:
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise UsageError(f"cannot open --to directory {root}: {exc.strerror}") from None
        self.root = root
        self.tmp = self._open_temp_dir()

    def _open_temp_dir(self) -> int:
        with contextlib.suppress(FileExistsError):
            os.mkdir(TEMP_DIR, 0o700, dir_fd=self.fd)
        try:
            fd = os.open(TEMP_DIR, _DIR_FLAGS, dir_fd=self.fd)
        except OSError:
            raise UsageError(
                f"{self.root / TEMP_DIR} is not a directory this tool made",
                hint="remove it, then restore again",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"another restore is writing under {self.root}") from None
        os.fchmod(fd, 0o700)
        _empty(fd)  # plaintext left by an interrupted restore
        return fd

    def close(self) -> None:
        _empty(self.tmp)
        os.close(self.tmp)
        with contextlib.suppress(OSError):
            os.rmdir(TEMP_DIR, dir_fd=self.fd)
        os.close(self.fd)

    # -- one object ---------------------------------------------------------------------

    def parent(self, parts: list[str]) -> int:
        """A descriptor on the directory that will hold ``parts[-1]``, created 0700 where
        missing, reached without following links; Unsafe when a segment is not a
        directory (a file, another key's object, a link)."""
        fd = os.dup(self.fd)
        for depth, part in enumerate(parts[:-1]):
            fd = _step(fd, part, "/".join(parts[: depth + 1]))  # consumes fd
        return fd

    def new_temp(self) -> tuple[str, int]:
        """A fresh 0600 temp file (name, writable fd) in the private temp directory."""
        while True:
            name = f"{secrets.token_hex(16)}.part"
            try:
                return name, os.open(name, _NEW_FILE, 0o600, dir_fd=self.tmp)
            except FileExistsError:
                continue

    def drop_temp(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.tmp)

    def existing(self, parent: int, name: str) -> os.stat_result | None:
        """What already has this name (not followed), or None."""
        try:
            return os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def same_content(self, parent: int, name: str, size: int, sha256: str | None) -> bool:
        """True when the regular file ``name`` already holds exactly these bytes."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=parent)
        except OSError:
            return False
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size != size or sha256 is None:
                return False
            digest = hashlib.sha256()
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def publish(self, temp: str, parent: int, name: str) -> None:
        """Give the matched temp file its final name; never replaces an existing one."""
        try:
            os.link(temp, name, src_dir_fd=self.tmp, dst_dir_fd=parent, follow_symlinks=False)
        except FileExistsError:
            raise Unsafe("the name appeared while restoring (another key?)") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            if self.existing(parent, name) is not None:
                raise Unsafe("the name appeared while restoring (another key?)") from None
            os.rename(temp, name, src_dir_fd=self.tmp, dst_dir_fd=parent)
            return
        self.drop_temp(temp)


def _step(fd: int, part: str, where: str) -> int:
    """Open (creating 0700 if missing) the directory ``part`` under ``fd``; closes ``fd``."""
    try:
        try:
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=fd)
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EEXIST):
            raise Unsafe(f"{where!r} exists and is not a directory (a file or a link)") from None
        raise
    finally:
        os.close(fd)
    return nxt


def _empty(fd: int) -> None:
    for name in os.listdir(fd):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(name, dir_fd=fd)
