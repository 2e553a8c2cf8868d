"""The journal's schema and its migrations.

``PRAGMA user_version`` holds the schema version; ``schema_migrations`` records when each
migration ran. Migrations only ever append: a released migration is never edited. A
journal written by a newer hdh-migrate (higher version) is refused, not guessed at.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from hdh_migrate.journal.models import JournalError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, datasets, items, uploads, transitions, leases, approvals",
        (
            """CREATE TABLE schema_migrations (
                version INTEGER PRIMARY KEY,
                description TEXT NOT NULL,
                applied_at TEXT NOT NULL)""",
            """CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                plan_digest TEXT NOT NULL,
                tool_version TEXT NOT NULL,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                status TEXT)""",
            """CREATE TABLE datasets (
                dataset TEXT PRIMARY KEY,
                wave TEXT NOT NULL,
                state TEXT NOT NULL,
                updated_at TEXT NOT NULL)""",
            """CREATE TABLE items (
                item_id TEXT NOT NULL UNIQUE,
                dataset TEXT NOT NULL,
                key TEXT NOT NULL,
                size INTEGER NOT NULL,
                etag TEXT NOT NULL,
                last_modified TEXT,
                content_md5 TEXT,
                state TEXT NOT NULL,
                reason TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                plaintext_sha256 TEXT,
                ciphertext_sha256 TEXT,
                target_key TEXT,
                target_size INTEGER,
                target_etag TEXT,
                target_version TEXT,
                header_sha256 TEXT,
                verify_mode TEXT,
                verify_result TEXT,
                updated_at TEXT NOT NULL,
                UNIQUE (dataset, key))""",
            "CREATE INDEX items_by_state ON items (state, dataset)",
            "CREATE INDEX items_by_dataset_state ON items (dataset, state)",
            """CREATE TABLE uploads (
                upload_id TEXT PRIMARY KEY,
                item_id TEXT NOT NULL,
                bucket TEXT NOT NULL,
                key TEXT NOT NULL,
                started_at TEXT NOT NULL)""",
            "CREATE INDEX uploads_by_item ON uploads (item_id)",
            """CREATE TABLE transitions (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                dataset TEXT NOT NULL,
                from_state TEXT NOT NULL,
                to_state TEXT NOT NULL,
                at TEXT NOT NULL,
                detail TEXT)""",
            "CREATE INDEX transitions_by_dataset ON transitions (dataset, id)",
            """CREATE TABLE leases (
                dataset TEXT NOT NULL,
                key TEXT NOT NULL,
                lease_id TEXT NOT NULL,
                acquired_at TEXT NOT NULL,
                released_at TEXT,
                PRIMARY KEY (dataset, key))""",
            """CREATE TABLE approvals (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                wave TEXT NOT NULL,
                name TEXT NOT NULL,
                at TEXT NOT NULL,
                detail TEXT,
                UNIQUE (wave, name))""",
        ),
    ),
    Migration(
        2,
        "items.manifest_leaf: the manifest leaf that records the verified item",
        ("ALTER TABLE items ADD COLUMN manifest_leaf INTEGER",),
    ),
    Migration(
        3,
        "resumes: the HDH1 header (wrapped data key only) a multipart upload resumes with",
        (
            """CREATE TABLE resumes (
                item_id TEXT PRIMARY KEY,
                etag TEXT NOT NULL,
                header TEXT NOT NULL,
                created_at TEXT NOT NULL)""",
        ),
    ),
    Migration(
        4,
        "items.object_id: the object id the inventory computed (earlier rows: filled by "
        "Journal.fill_object_ids from the plan's dataset prefixes)",
        ("ALTER TABLE items ADD COLUMN object_id TEXT",),
    ),
)

LATEST = MIGRATIONS[-1].version


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, now: str) -> int:
    """Apply pending migrations, each in its own transaction; return the final version.

    Raises JournalError for a journal newer than this code understands.
    """
    version = current_version(conn)
    if version > LATEST:
        raise JournalError(
            f"the journal has schema version {version}; this hdh-migrate knows up to {LATEST}",
            hint="run a newer hdh-migrate, or start a new journal",
        )
    for migration in MIGRATIONS:
        if migration.version > version:
            _apply(conn, migration, now)
    return current_version(conn)


def _apply(conn: sqlite3.Connection, migration: Migration, now: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.description, now),
        )
        conn.execute(f"PRAGMA user_version = {int(migration.version)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
