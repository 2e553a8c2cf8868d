"""The audit's journal view is read-only: no write succeeds, no file appears or changes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from hdh_migrate.engine.audit.journal import JournalView
from hdh_migrate.journal import Journal


def fingerprint(directory: Path) -> dict[str, tuple[str, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
    }


def test_missing_journal_is_none_and_nothing_is_created(tmp_path: Path) -> None:
    with JournalView.open(tmp_path / "state" / "journal.sqlite") as view:
        assert view is None
    assert not (tmp_path / "state").exists()


def test_reads_states_and_items_without_touching_the_files(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        journal.ensure_dataset("ds", "w1")
    before = fingerprint(tmp_path)
    assert list(before) == ["journal.sqlite"]  # a clean close leaves no -wal/-shm
    with JournalView.open(path) as view:
        assert view is not None
        assert view.dataset_states() == {"ds": "new"}
        assert view.item("ds", "missing") is None
        assert view.measured_rate() is None
        with pytest.raises(sqlite3.OperationalError):
            view._conn.execute("DELETE FROM datasets")
    assert fingerprint(tmp_path) == before


def test_reads_through_the_wal_of_an_active_writer(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as writer:
        writer.ensure_dataset("ds", "w1")
        writer.ensure_dataset("ds2", "w1")  # committed, maybe only in the WAL so far
        names = sorted(p.name for p in tmp_path.iterdir())
        assert "journal.sqlite-wal" in names
        main = hashlib.sha256(path.read_bytes()).hexdigest()
        with JournalView.open(path) as view:
            assert view is not None
            assert view.dataset_states() == {"ds": "new", "ds2": "new"}
        assert sorted(p.name for p in tmp_path.iterdir()) == names
        assert hashlib.sha256(path.read_bytes()).hexdigest() == main
