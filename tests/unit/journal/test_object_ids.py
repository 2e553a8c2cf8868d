"""Object ids (and target keys) are computed once, at inventory, and journaled (schema 3);
a journal of the previous schema is migrated and its items get theirs from the plan."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.run import session
from hdh_migrate.journal import Journal, item_id_for
from hdh_migrate.journal.schema import LATEST, MIGRATIONS, _apply
from tests.offline_plan import new_store, offline_plan_text

REST = """\
keys:
  k: {{kind: file, path: "{key}", create: true}}
defaults: {{key: k, verify: full}}
state_dir: "{state}"
waves:
  - name: w1
    datasets:
      - {{name: ds, source: disk, prefix: data/, target: mem, target_prefix: enc/2026/}}
"""


def _schema_2_journal(path: Path) -> None:
    """A journal as hdh-migrate wrote it before schema 3: one verified item, one pending."""
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:2]:
        _apply(conn, migration, "2026-01-01T00:00:00Z")
    columns = "item_id, dataset, key, size, etag, state, target_key, updated_at"
    rows = [
        ("ds", "data/a/b.bin", 3, "e1", "verified", "enc/2026/a/b.bin", "t"),
        ("ds", "data/c.bin", 4, "e2", "pending", None, "t"),
        ("other", "x/c.bin", 4, "e3", "pending", None, "t"),
    ]
    rows = [(item_id_for(row[0], row[1]), *row) for row in rows]
    conn.executemany(f"INSERT INTO items ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


def test_a_schema_2_journal_is_migrated_and_filled_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    _schema_2_journal(path)
    with Journal(path) as journal:
        assert LATEST == 4
        assert journal.get("ds", "data/a/b.bin").object_id is None  # type: ignore[union-attr]
        assert journal.fill_object_ids("ds", "data/", "enc/2026/") == 2
        a, c = journal.get("ds", "data/a/b.bin"), journal.get("ds", "data/c.bin")
        assert a is not None and c is not None
        assert (a.object_id, a.target_key) == ("ds/a/b.bin", "enc/2026/a/b.bin")
        assert (c.object_id, c.target_key) == ("ds/c.bin", "enc/2026/c.bin")
        assert journal.get("other", "x/c.bin").object_id is None  # type: ignore[union-attr]
        assert journal.fill_object_ids("ds", "data/", "enc/2026/") == 0  # once
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == 4


def test_the_inventory_journals_each_object_id_and_target_key(tmp_path: Path) -> None:
    (tmp_path / "src" / "data" / "a").mkdir(parents=True)
    (tmp_path / "src" / "data" / "a" / "b.bin").write_bytes(os.urandom(100))
    store = new_store()
    plan = tmp_path / "plan.yaml"
    rest = REST.format(key=tmp_path / "k", state=tmp_path / "state")
    plan.write_text(offline_plan_text("ids", tmp_path / "src", rest, store=store))
    try:
        with session.migration(plan) as job:
            job.run()
            item = job.journal.get("ds", "data/a/b.bin")
    finally:
        drop_store(store)
    assert item is not None
    assert (item.object_id, item.target_key) == ("ds/a/b.bin", "enc/2026/a/b.bin")


def test_a_journal_of_the_previous_schema_verifies_after_the_upgrade(tmp_path: Path) -> None:
    """Objects copied under schema 3 verify against their HDH1 headers (which name the
    object id) once the journal is migrated: the ids filled in are the ones copied."""
    data = tmp_path / "src" / "data"
    data.mkdir(parents=True)
    for n in range(3):
        (data / f"f{n}.bin").write_bytes(os.urandom(200 + n))
    store = new_store()
    plan = tmp_path / "plan.yaml"
    rest = REST.format(key=tmp_path / "k", state=tmp_path / "state")
    plan.write_text(offline_plan_text("ids", tmp_path / "src", rest, store=store))
    try:
        with session.migration(plan) as job:
            (outcome,) = job.run()
        assert outcome.verified == 3
        journal = tmp_path / "state" / "journal.sqlite"
        conn = sqlite3.connect(journal, isolation_level=None)  # back to schema 3
        conn.execute("ALTER TABLE items DROP COLUMN object_id")
        conn.execute("DELETE FROM schema_migrations WHERE version = 4")
        conn.execute("PRAGMA user_version = 3")
        conn.close()
        with session.migration(plan, command="verify") as job:
            (outcome,) = job.reverify()
        assert (outcome.verified, outcome.failed, outcome.unverifiable) == (3, [], [])
    finally:
        drop_store(store)
