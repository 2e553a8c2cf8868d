"""A read-only view of a plan's journal for the audit: SQLite ``mode=ro``, and
``immutable=1`` when no WAL file exists (then SQLite creates no ``-wal``/``-shm`` file).
A missing journal is ``None``: nothing has run, and nothing is created."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from hdh_migrate.errors import UsageError
from hdh_migrate.journal.integrity import check_file, named

DONE_STATES = frozenset({"copied", "verified"})
DECOMMISSIONED = "decommissioned"


def decommissioned(detail: str | None) -> dict[str, object] | None:
    """The decommissioning note in a journal transition's detail, or None."""
    try:
        value = json.loads(detail or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("event") == DECOMMISSIONED else None


@dataclass(frozen=True)
class JournalItem:
    state: str
    etag: str
    size: int
    target_size: int | None


class JournalView:
    """Queries the audit needs; never writes (the connection is read-only)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    @contextmanager
    def open(cls, path: Path) -> Iterator[JournalView | None]:
        """The view, or None when the journal file does not exist."""
        if not path.is_file():
            yield None
            return
        check_file(path)  # garbage or truncated: one line naming it (exit 9)
        wal = Path(f"{path}-wal").exists()  # a writer is (or was) active: read through it
        try:
            conn = _connect(path, immutable=not wal)
        except sqlite3.Error:
            with named(path):  # e.g. a WAL without its -shm: last resort
                conn = _connect(path, immutable=True)
        try:
            yield cls(conn)
        finally:
            conn.close()

    def dataset_states(self) -> dict[str, str]:
        rows = self._conn.execute("SELECT dataset, state FROM datasets")
        return {str(dataset): str(state) for dataset, state in rows}

    def decommissioned(self) -> dict[str, str]:
        """Dataset → method (deleted, attested) of the decommissioning notes."""
        rows = self._conn.execute(
            "SELECT dataset, detail FROM transitions WHERE from_state = to_state ORDER BY id"
        )
        found: dict[str, str] = {}
        for dataset, detail in rows:
            note = decommissioned(detail)
            if note is not None:
                found[str(dataset)] = str(note.get("method", ""))
        return found

    def item(self, dataset: str, key: str) -> JournalItem | None:
        row = self._conn.execute(
            "SELECT state, etag, size, target_size FROM items WHERE dataset = ? AND key = ?",
            (dataset, key),
        ).fetchone()
        return JournalItem(*row) if row else None

    def measured_rate(self) -> int | None:
        """Bytes per second over finished runs (bytes of done items / run time), or None."""
        runs = self._conn.execute(
            "SELECT started_at, ended_at FROM runs WHERE ended_at IS NOT NULL"
        ).fetchall()
        seconds = sum(_seconds(start, end) for start, end in runs)
        placeholders = ",".join("?" * len(DONE_STATES))
        moved = self._conn.execute(
            f"SELECT COALESCE(SUM(size), 0) FROM items WHERE state IN ({placeholders})",  # noqa: S608
            sorted(DONE_STATES),
        ).fetchone()[0]
        return int(moved / seconds) if seconds > 0 and moved else None


def _connect(path: Path, *, immutable: bool) -> sqlite3.Connection:
    """A read-only connection that has answered one query (so errors surface here)."""
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.absolute()))}?{flags}", uri=True)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read journal {path}: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM datasets").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _seconds(start: str, end: str) -> float:
    try:
        return max(0.0, (_parse(end) - _parse(start)).total_seconds())
    except ValueError:
        return 0.0


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
