"""Is the journal file sound? Checked when it is opened, and every SQLite failure named.

At open: a file that is not SQLite (garbage), shorter than its own header says
(truncated), or with tables missing (a migration cut short by a full disk) is refused with
one line naming the file and the recovery command; after an unclean shutdown (a WAL file
left next to it) ``PRAGMA integrity_check`` runs too. A SQLite error later (disk full, I/O
error, corruption found mid-run) becomes the same kind of one-line ``StateError`` (exit 9)
naming the file — never "internal error: disk I/O error".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hdh_migrate.errors import StateError

SQLITE_MAGIC = b"SQLite format 3\x00"
REQUIRED_TABLES = frozenset({"runs", "datasets", "items", "uploads", "transitions", "approvals"})
REPAIR = (
    "check it with `hdh-migrate state check PLAN`, rebuild it with `hdh-migrate state repair PLAN`"
)


def check_file(path: Path) -> None:
    """Refuse a file that is not an SQLite database or is shorter than its header says.
    A missing or empty file is a new journal (whether that is right is ``state_guard``'s
    question, asked with the manifest in view)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(100)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"cannot read the journal {path}: {exc.strerror}") from None
    if size == 0:
        return
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        raise StateError(f"the journal {path} is not an SQLite database (damaged)", hint=REPAIR)
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    # A kill during a checkpoint may leave page 1 (copied from the WAL) ahead of the pages
    # not copied yet: the WAL still holds them and SQLite replays it on open, so a file
    # shorter than its header is damage only when no WAL is left (else integrity_check
    # after opening decides).
    if pages and size < page_size * pages and not unclean(path):
        raise StateError(
            f"the journal {path} is truncated ({size} bytes, its header says {page_size * pages})",
            hint=REPAIR,
        )


def unclean(path: Path) -> bool:
    """A WAL file next to the journal: the last writer did not close it (or one runs now)."""
    wal = path.with_name(path.name + "-wal")
    return wal.exists() and wal.stat().st_size > 0


def check_opened(conn: sqlite3.Connection, path: Path, full: bool) -> None:
    """The schema's tables are there; with ``full``, ``integrity_check`` says ok."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = sorted(REQUIRED_TABLES - names)
    if missing:
        raise StateError(
            f"the journal {path} lacks table(s) {', '.join(missing)} (damaged)", hint=REPAIR
        )
    if full:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
        if verdict != ["ok"]:
            raise StateError(
                f"the journal {path} failed its integrity check: {verdict[0]}", hint=REPAIR
            )


def as_state_error(path: Path, exc: sqlite3.Error) -> StateError:
    """One line naming the file for any SQLite failure."""
    text = str(exc).strip() or type(exc).__name__
    if "full" in text.lower():
        return StateError(
            f"disk full writing the journal {path}",
            hint="free space on its filesystem and run again (the last transaction was rolled "
            "back; nothing recorded is lost)",
        )
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text.lower():
        return StateError(f"the journal {path} is locked by another process ({text})")
    return StateError(f"the journal {path}: {text}", hint=REPAIR)


@contextmanager
def named(path: Path) -> Iterator[None]:
    """Turn SQLite errors raised inside into ``StateError`` naming ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise as_state_error(path, exc) from None
