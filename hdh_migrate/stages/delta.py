"""Delta: what changed at the source since the journal's inventory.

A listing taken after the freeze is compared, object by object, with what the journal
knows: a key it does not know is ``created``; a different ETag, size or last-modified
time is ``changed``; a key the journal knows but the listing lacks is ``deleted``.

Memory stays bounded whatever the object count: the listing is streamed, each key is
looked up on its own, and the keys seen are kept in a temporary SQLite file
(``SeenKeys``) so the deleted ones can be found by walking the journal afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hdh_migrate.backends.base import ObjectInfo

DELETED_REASON = "deleted at source (cutover delta)"


@dataclass(frozen=True)
class Known:
    """What the journal knows of one object."""

    key: str
    size: int
    etag: str
    last_modified: str | None


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` is created, changed or deleted; ``why`` names the field
    that differs for a change (etag, size or last_modified)."""

    kind: str
    key: str
    size: int = 0
    why: str | None = None


@dataclass
class DeltaCounts:
    """Objects listed, and how many were created, changed, deleted or unchanged."""

    listed: int = 0
    created: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    bytes: int = 0

    @property
    def total(self) -> int:
        return self.created + self.changed + self.deleted

    def count(self, change: Change) -> None:
        setattr(self, change.kind, getattr(self, change.kind) + 1)
        self.bytes += change.size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"total": self.total}


class SeenKeys:
    """A set of keys on disk (a temporary SQLite file in ``directory``, removed on close)."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(prefix="delta-seen-", suffix=".sqlite", dir=directory)
        os.close(fd)
        self._path = Path(name)
        self._conn = sqlite3.connect(self._path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
        self._pending: list[tuple[str]] = []

    def add(self, key: str) -> None:
        self._pending.append((key,))
        if len(self._pending) >= 1000:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._conn.executemany("INSERT OR IGNORE INTO seen VALUES (?)", self._pending)
            self._pending.clear()

    def __contains__(self, key: object) -> bool:
        self._flush()
        row = self._conn.execute("SELECT 1 FROM seen WHERE key = ?", (key,)).fetchone()
        return row is not None

    def close(self) -> None:
        self._conn.close()
        self._path.unlink(missing_ok=True)

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def difference(info: ObjectInfo, known: Known) -> str | None:
    """Which field tells ``info`` (listed now) apart from ``known``; None when equal."""
    if (info.etag or "") != known.etag:
        return "etag"
    if info.size != known.size:
        return "size"
    listed = info.last_modified.isoformat() if info.last_modified else None
    if listed is not None and known.last_modified is not None and listed != known.last_modified:
        return "last_modified"
    return None


def listing_changes(
    listing: Iterable[ObjectInfo],
    lookup: Callable[[str], Known | None],
    seen: SeenKeys,
    counts: DeltaCounts,
) -> Iterator[Change]:
    """Created and changed objects of ``listing``; every key is added to ``seen``."""
    for info in listing:
        counts.listed += 1
        seen.add(info.key)
        known = lookup(info.key)
        why = "new" if known is None else difference(info, known)
        if why is None:
            counts.unchanged += 1
            continue
        change = Change("created" if known is None else "changed", info.key, info.size, why)
        counts.count(change)
        yield change


def deleted(known: Iterable[Known], seen: SeenKeys) -> Iterator[Change]:
    """The known objects the listing did not show."""
    for item in known:
        if item.key not in seen:
            yield Change("deleted", item.key, 0, "missing")
