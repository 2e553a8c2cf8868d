"""State files are private: the state directory 0700 and every file in it 0600, whether
or not this tool created the directory (an existing one is tightened on open).

``tighten`` walks a directory (never following links) and fixes modes; ``create``
makes a file 0600 before SQLite or an append handle opens it (SQLite gives its ``-wal``
and ``-shm`` files the database file's mode); ``write_text`` writes a whole file 0600.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FILE_MODE, DIR_MODE = 0o600, 0o700


def tighten(root: Path) -> None:
    """``root`` and the directories under it 0700, the files 0600; links are left alone."""
    _chmod(root, DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            _chmod(Path(folder, name), DIR_MODE)
        for name in files:
            _chmod(Path(folder, name), FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        info = path.lstat()
        if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode, follow_symlinks=False)


def create(path: Path) -> Path:
    """Make sure ``path`` exists with mode 0600 (an existing file is tightened)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, mode 0600, replacing what was there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), FILE_MODE)
        out.write(text)
