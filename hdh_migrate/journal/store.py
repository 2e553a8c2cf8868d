"""The SQLite journal: what the coordinator knows about every object, durably.

One writer (the coordinator), one connection, explicit transactions:

- WAL mode: readers never block the writer; a crash of the process never corrupts the
  file and loses at most the transaction that had not returned from COMMIT.
- Inventory batches and ``copying`` marks commit with ``synchronous=NORMAL``: after an
  OS crash or power loss the last few may be lost, which only means listing again or
  redoing a copy that had not been confirmed.
- Everything that records a fact about the target (copied, verified, failed, uploads,
  leases, dataset transitions, approvals) commits with ``synchronous=FULL``: once the
  method returns, the fact survives power loss.

Every change method is idempotent: repeating it leaves the same state (it returns False
when there was nothing to change). Pagination is keyset-based (rowid), so iterators
hold one page in memory and tolerate state changes made while iterating.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from hdh_migrate import private_files
from hdh_migrate.errors import StateError
from hdh_migrate.journal import integrity, schema
from hdh_migrate.journal.models import (
    Approval,
    CopyResult,
    InvalidTransition,
    InventoryEntry,
    Item,
    JournalError,
    Lease,
    Run,
    StateCount,
    Transition,
    Upload,
    UpsertCounts,
    item_id_for,
)
from hdh_migrate.journal.states import DatasetState, ItemState, dataset_allows, item_sources

NORMAL, FULL = "NORMAL", "FULL"
_ITEM_COLUMNS = tuple(Item.__dataclass_fields__)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: How strong a passed check is: the mode kept when an object is verified again.
MODE_RANK = {"none": 0, "metadata": 1, "header": 2, "full": 3}
_MODE_RANK = (
    "CASE COALESCE(verify_mode, '') "
    + " ".join(f"WHEN '{mode}' THEN {rank}" for mode, rank in MODE_RANK.items())
    + " ELSE 0 END"
)


class _Connection(sqlite3.Connection):
    """A connection whose SQLite errors (disk full, a damaged or foreign file, I/O errors)
    become one-line ``StateError``s naming the journal file (exit 9), never exit 1."""

    path: Path = Path("<journal>")

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.IntegrityError:
            raise  # a constraint: the caller's business, not a damaged file
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None


def state_error(path: Path, exc: sqlite3.Error) -> StateError:
    """What a failed SQLite call on the journal at ``path`` is reported as (a full disk,
    a damaged file: ``integrity.as_state_error`` names it and the recovery command)."""
    return integrity.as_state_error(path, exc)


class Journal:
    """The journal of one plan, stored in one SQLite file.

    Single writer and not thread-safe: use it from the thread that opened it (the
    coordinator loop), not from executor callbacks. Other processes may read the file
    (``status``) at any time; WAL keeps them from blocking the writer.
    """

    def __init__(self, path: str | Path, clock: Callable[[], str] = utc_now) -> None:
        self.path = Path(path)
        self._clock = clock
        #: Called with the seconds each write transaction took, BEGIN to COMMIT (metrics).
        self.on_commit: Callable[[float], None] | None = None
        integrity.check_file(self.path)  # garbage or truncated: a one-line StateError
        full_check = integrity.unclean(self.path)
        try:
            private_files.create(self.path)
            with integrity.named(self.path):
                self._conn = sqlite3.connect(self.path, isolation_level=None, factory=_Connection)
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None
        except OSError as exc:
            raise StateError(f"journal {self.path}: {exc.strerror or exc}") from None
        self._conn.path = self.path
        self._conn.row_factory = sqlite3.Row
        try:
            with integrity.named(self.path):
                self._configure()
                self.schema_version = schema.migrate(self._conn, clock())
                integrity.check_opened(self._conn, self.path, full_check)
        except BaseException:
            self._conn.close()
            raise

    def _configure(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"journal {self.path}: WAL mode unavailable (got {mode})")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        """Checkpoint the WAL into the database and close. Idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _txn(self, sync: str) -> Iterator[sqlite3.Connection]:
        """One write transaction committed with ``synchronous=sync``."""
        conn = self._conn
        began = time.monotonic()
        with integrity.named(self.path):
            conn.execute(f"PRAGMA synchronous={sync}")
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except StateError:
            self._rollback()  # the connection already named the file and the cause
            raise
        except sqlite3.Error as exc:
            self._rollback()
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise integrity.as_state_error(self.path, exc) from None
        except BaseException:
            self._rollback()
            raise
        with integrity.named(self.path):
            conn.execute("COMMIT")
        if self.on_commit is not None:
            self.on_commit(time.monotonic() - began)

    def _rollback(self) -> None:
        with suppress(sqlite3.Error, StateError):  # a failed COMMIT or a full disk ended it
            self._conn.execute("ROLLBACK")

    # ------------------------------------------------------------------ runs

    def begin_run(self, run_id: str, plan_digest: str, tool_version: str) -> Run:
        """Record the start of a run (idempotent for the same ``run_id``)."""
        with self._txn(FULL) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, plan_digest, tool_version, started_at)"
                " VALUES (?, ?, ?, ?)",
                (run_id, plan_digest, tool_version, self._clock()),
            )
        return self._one_run(run_id)

    def end_run(self, run_id: str, status: str) -> Run:
        with self._txn(FULL) as conn:
            conn.execute(
                "UPDATE runs SET ended_at = ?, status = ? WHERE run_id = ?",
                (self._clock(), status, run_id),
            )
        return self._one_run(run_id)

    def runs(self) -> list[Run]:
        rows = self._conn.execute("SELECT * FROM runs ORDER BY started_at, run_id")
        return [Run.from_dict(dict(row)) for row in rows]

    def _one_run(self, run_id: str) -> Run:
        row = self._conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise JournalError(f"no run {run_id!r} in the journal")
        return Run.from_dict(dict(row))

    # ------------------------------------------------------------------ inventory

    def upsert_inventory(
        self, entries: Iterable[InventoryEntry], batch_size: int = 5000
    ) -> UpsertCounts:
        """Insert or refresh listed objects, one transaction (NORMAL) per batch (5,000
        rows: 9 % less CPU than 1,000 at 300,000 objects, docs/benchmarks.md; a crash loses
        at most the batch, listed again by the next run).

        A new object starts ``pending`` (or ``skipped``/``flagged`` when the entry says
        so); an object whose ETag or size changed goes back to ``pending`` with its copy
        results cleared; an unchanged one keeps its state.
        """
        total = UpsertCounts()
        iterator = iter(entries)
        while batch := list(islice(iterator, batch_size)):
            total = total + self._upsert_batch(batch)
        return total

    def _upsert_batch(self, batch: Sequence[InventoryEntry]) -> UpsertCounts:
        now = self._clock()
        with self._txn(NORMAL) as conn:
            known = self._known(conn, [e.item_id for e in batch])
            counts = _classify(batch, {k: v[:2] for k, v in known.items()})
            # a row the listing would leave exactly as it is is not written again: a no-op
            # re-run of an unchanged source only reads the journal
            rows = [_upsert_row(e, now) for e in batch if known.get(e.item_id) != _listed(e)]
            if rows:
                conn.executemany(_UPSERT_SQL, rows)
        return counts

    @staticmethod
    def _known(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            "SELECT item_id, etag, size, last_modified, content_md5"  # noqa: S608
            f" FROM items WHERE item_id IN ({marks})",
            ids,
        )
        return {
            row["item_id"]: (row["etag"], row["size"], row["last_modified"], row["content_md5"])
            for row in rows
        }

    # ------------------------------------------------------------------ item transitions

    def mark_copying(self, item_id: str) -> bool:
        """pending/failed → copying, counting an attempt (NORMAL: redone if lost)."""
        return self._move(item_id, ItemState.COPYING, NORMAL, attempts=True)

    def mark_copied(self, item_id: str, result: CopyResult) -> bool:
        """copying → copied with what the target confirmed; forgets its uploads (FULL)."""
        return self.mark_copied_many([(item_id, result)]) == 1

    def mark_copied_many(self, results: Iterable[tuple[str, CopyResult]]) -> int:
        """Record many confirmed copies in one FULL transaction; return how many changed."""
        changed = 0
        with self._txn(FULL) as conn:
            for item_id, result in results:
                changed += self._move_in(conn, item_id, ItemState.COPIED, result.item_fields())
                conn.execute("DELETE FROM uploads WHERE item_id = ?", (item_id,))
                conn.execute("DELETE FROM resumes WHERE item_id = ?", (item_id,))
        return changed

    def mark_verified(self, item_id: str, mode: str, result: str = "ok") -> bool:
        """copied → verified, recording the verification ``mode`` that passed (FULL)."""
        fields = {"verify_mode": mode, "verify_result": result, "last_error": None}
        return self._move(item_id, ItemState.VERIFIED, FULL, **fields)

    def mark_verified_many(self, passed: Iterable[tuple[str, str]]) -> int:
        """Record many passed verifications ``(item id, mode)`` in one FULL transaction
        (one fsync for the group); return how many changed."""
        changed = 0
        with self._txn(FULL) as conn:
            for item_id, mode in passed:
                fields = {"verify_mode": mode, "verify_result": "ok", "last_error": None}
                changed += self._move_in(conn, item_id, ItemState.VERIFIED, fields)
        return changed

    def upgrade_verify_modes(self, passed: Iterable[tuple[str, str]]) -> int:
        """Verified items checked again and passed ``(item id, mode)``: keep the strongest
        check each ever passed (full > header > metadata > none), so a ``verify --mode
        full`` after a sampled run counts as full read-back; one FULL transaction."""
        changed = 0
        with self._txn(FULL) as conn:
            for item_id, mode in passed:
                changed += conn.execute(
                    "UPDATE items SET verify_mode = ?, updated_at = ? WHERE item_id = ? "  # noqa: S608 — constants only
                    f"AND state = 'verified' AND {_MODE_RANK} < ?",
                    (mode, self._clock(), item_id, MODE_RANK.get(mode, 0)),
                ).rowcount
        return changed

    def mark_failed(
        self, item_id: str, reason: str, error: str | None = None, verify_mode: str | None = None
    ) -> bool:
        """→ failed(reason); ``verify_mode`` when a verification found a mismatch (FULL)."""
        fields: dict[str, Any] = {"reason": reason, "last_error": error}
        if verify_mode is not None:
            fields |= {"verify_mode": verify_mode, "verify_result": "mismatch"}
        return self._move(item_id, ItemState.FAILED, FULL, **fields)

    def mark_skipped(self, item_id: str, reason: str) -> bool:
        return self._move(item_id, ItemState.SKIPPED, FULL, reason=reason)

    def mark_recorded(self, item_id: str, leaf: int) -> bool:
        """Note the manifest leaf that records this item (NORMAL: see ``unrecorded``)."""
        with self._txn(NORMAL) as conn:
            cursor = conn.execute(
                "UPDATE items SET manifest_leaf = ? WHERE item_id = ? AND manifest_leaf IS NOT ?",
                (leaf, item_id, leaf),
            )
        return cursor.rowcount == 1

    def reset_to_pending(self, item_id: str, reason: str | None = None) -> bool:
        """copying/failed/… → pending (reconcile on resume, or a manual retry) (FULL)."""
        return self._move(item_id, ItemState.PENDING, FULL, reason=reason)

    def _move(self, item_id: str, target: ItemState, sync: str, **fields: Any) -> bool:
        with self._txn(sync) as conn:
            return bool(self._move_in(conn, item_id, target, fields))

    def _move_in(
        self, conn: sqlite3.Connection, item_id: str, target: ItemState, fields: dict[str, Any]
    ) -> int:
        attempts = bool(fields.pop("attempts", False))
        sources = sorted(item_sources(target))
        assignments = "".join(f", {name} = ?" for name in fields)
        sql = (
            f"UPDATE items SET state = ?, updated_at = ?{assignments}"  # noqa: S608
            + (", attempts = attempts + 1" if attempts else "")
            + f" WHERE item_id = ? AND state IN ({','.join('?' * len(sources))})"
        )
        params = [target.value, self._clock(), *fields.values(), item_id, *sources]
        if conn.execute(sql, params).rowcount == 1:
            return 1
        self._explain_refusal(conn, item_id, target)
        return 0

    @staticmethod
    def _explain_refusal(conn: sqlite3.Connection, item_id: str, target: ItemState) -> None:
        row = conn.execute("SELECT state FROM items WHERE item_id = ?", (item_id,)).fetchone()
        if row is None:
            raise JournalError(f"no item {item_id} in the journal")
        if row["state"] != target.value and not _ahead(ItemState(row["state"]), target):
            raise InvalidTransition(
                f"item {item_id}: {row['state']} → {target.value} is not allowed"
            )

    # ------------------------------------------------------------------ item queries

    def get(self, dataset: str, key: str) -> Item | None:
        return self.get_by_id(item_id_for(dataset, key))

    def get_by_id(self, item_id: str) -> Item | None:
        row = self._conn.execute("SELECT * FROM items WHERE item_id = ?", (item_id,)).fetchone()
        return _item(row) if row is not None else None

    def items(
        self, state: ItemState | None = None, dataset: str | None = None, page_size: int = 500
    ) -> Iterator[Item]:
        """Items in a state (and dataset), in insertion order, one page in memory at a time."""
        where, params = _filters(state, dataset)
        last = 0
        while True:
            rows = self._conn.execute(
                f"SELECT rowid, * FROM items WHERE rowid > ?{where} "  # noqa: S608
                "ORDER BY rowid LIMIT ?",
                [last, *params, page_size],
            ).fetchall()
            yield from (_item(row) for row in rows)
            if len(rows) < page_size:
                return
            last = rows[-1]["rowid"]

    def pending(self, dataset: str | None = None, page_size: int = 500) -> Iterator[Item]:
        """The cursor the coordinator refills its window from."""
        return self.items(ItemState.PENDING, dataset, page_size)

    def in_copying(self, dataset: str | None = None) -> Iterator[Item]:
        """Items caught mid-copy by a crash: HEAD the target / abort uploads, then redo."""
        return self.items(ItemState.COPYING, dataset)

    def unrecorded(
        self, manifest_size: int, dataset: str | None = None, page_size: int = 500
    ) -> Iterator[Item]:
        """Verified items the manifest does not hold: no leaf noted, or a leaf at or past
        ``manifest_size`` (lines lost with a crash before the manifest was synced).

        On resume, open the manifest (which drops a torn tail), then append a record for
        each of these and ``mark_recorded`` it; a duplicate record is harmless.
        """
        for item in self.items(ItemState.VERIFIED, dataset, page_size):
            if item.manifest_leaf is None or item.manifest_leaf >= manifest_size:
                yield item

    def failures(self, dataset: str | None = None, limit: int = 100) -> list[Item]:
        return list(islice(self.items(ItemState.FAILED, dataset), limit))

    def counts(self, dataset: str | None = None) -> list[StateCount]:
        """Objects and bytes per (dataset, state)."""
        where, params = _filters(None, dataset)
        rows = self._conn.execute(
            "SELECT dataset, state, COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes "  # noqa: S608
            f"FROM items WHERE 1 = 1{where} GROUP BY dataset, state ORDER BY dataset, state",
            params,
        )
        return [StateCount.from_dict(dict(row)) for row in rows]

    def verified_modes(self, dataset: str | None = None) -> dict[str, int]:
        """Verified objects per verification mode (``full``, ``header``, ``metadata``…):
        how each was checked, for honest accounting in status, reports and gates."""
        where, params = _filters(ItemState.VERIFIED, dataset)
        rows = self._conn.execute(
            "SELECT COALESCE(verify_mode, '') AS mode, COUNT(*) AS count "  # noqa: S608
            f"FROM items WHERE 1 = 1{where} GROUP BY mode ORDER BY mode",
            params,
        )
        return {str(row["mode"]): int(row["count"]) for row in rows}

    # ------------------------------------------------------------------ multipart uploads

    def record_upload(self, item_id: str, upload_id: str, bucket: str, key: str) -> None:
        """Remember a multipart upload before its first part is sent (FULL)."""
        with self._txn(FULL) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO uploads (upload_id, item_id, bucket, key, started_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (upload_id, item_id, bucket, key, self._clock()),
            )

    def forget_upload(self, upload_id: str) -> None:
        with self._txn(FULL) as conn:
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))

    def open_uploads(self) -> list[Upload]:
        rows = self._conn.execute("SELECT * FROM uploads ORDER BY started_at, upload_id")
        return [Upload.from_dict(dict(row)) for row in rows]

    # ------------------------------------------------------------------ resumable uploads

    def record_resume(self, item_id: str, etag: str, header: bytes) -> None:
        """Keep the HDH1 header a large object is encrypted under (salt and the data key
        wrapped by the KEK: never a plaintext key) for the source version ``etag``, before
        its first part is sent (FULL): a later attempt or run re-encrypts the same bytes
        and reuses the parts already uploaded."""
        with self._txn(FULL) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO resumes (item_id, etag, header, created_at)"
                " VALUES (?, ?, ?, ?)",
                (item_id, etag, header.hex(), self._clock()),
            )

    def resume_header(self, item_id: str, etag: str) -> bytes | None:
        """The header journaled for ``item_id`` at source version ``etag``, if any."""
        row = self._conn.execute(
            "SELECT header FROM resumes WHERE item_id = ? AND etag = ?", (item_id, etag)
        ).fetchone()
        return bytes.fromhex(row["header"]) if row else None

    def resumable_keys(self, dataset: str) -> set[str]:
        """Source keys of the dataset's items whose multipart upload may be resumed (a
        journaled header for the item's current source version): kept at reconcile."""
        rows = self._conn.execute(
            "SELECT items.key AS key FROM resumes"
            " JOIN items ON items.item_id = resumes.item_id"
            " WHERE items.dataset = ? AND items.etag = resumes.etag",
            (dataset,),
        )
        return {str(row["key"]) for row in rows}

    # ------------------------------------------------------------------ datasets, cutover

    def ensure_dataset(self, dataset: str, wave: str) -> DatasetState:
        """Register a dataset (state ``new``) if unknown; return its current state."""
        with self._txn(FULL) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO datasets (dataset, wave, state, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (dataset, wave, DatasetState.NEW.value, self._clock()),
            )
        state = self.dataset_state(dataset)
        assert state is not None
        return state

    def dataset_state(self, dataset: str) -> DatasetState | None:
        row = self._conn.execute(
            "SELECT state FROM datasets WHERE dataset = ?", (dataset,)
        ).fetchone()
        return DatasetState(row["state"]) if row is not None else None

    def move_dataset(
        self, dataset: str, target: DatasetState, detail: str | None = None
    ) -> Transition | None:
        """Move a dataset to ``target`` and record the transition (FULL).

        Returns None when already there (idempotent); InvalidTransition when not allowed.
        """
        with self._txn(FULL) as conn:
            current = self._dataset_in(conn, dataset)
            if current is target:
                return None
            if not dataset_allows(current, target):
                raise InvalidTransition(
                    f"dataset {dataset}: {current.value} → {target.value} is not allowed"
                )
            now = self._clock()
            conn.execute(
                "UPDATE datasets SET state = ?, updated_at = ? WHERE dataset = ?",
                (target.value, now, dataset),
            )
            conn.execute(
                "INSERT INTO transitions (dataset, from_state, to_state, at, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                (dataset, current.value, target.value, now, detail),
            )
        return Transition(dataset, current, target, now, detail)

    def note_dataset(self, dataset: str, detail: str) -> Transition:
        """Record an event that does not change the dataset's state (e.g. the source was
        decommissioned after finalize) as a transition from its state to itself (FULL)."""
        with self._txn(FULL) as conn:
            current = self._dataset_in(conn, dataset)
            now = self._clock()
            conn.execute(
                "INSERT INTO transitions (dataset, from_state, to_state, at, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                (dataset, current.value, current.value, now, detail),
            )
        return Transition(dataset, current, current, now, detail)

    @staticmethod
    def _dataset_in(conn: sqlite3.Connection, dataset: str) -> DatasetState:
        row = conn.execute("SELECT state FROM datasets WHERE dataset = ?", (dataset,)).fetchone()
        if row is None:
            raise JournalError(f"no dataset {dataset!r} in the journal")
        return DatasetState(row["state"])

    def transitions(self, dataset: str) -> list[Transition]:
        rows = self._conn.execute(
            "SELECT dataset, from_state, to_state, at, detail FROM transitions"
            " WHERE dataset = ? ORDER BY id",
            (dataset,),
        )
        return [Transition.from_dict(dict(row)) for row in rows]

    # ------------------------------------------------------------------ leases, approvals

    def record_leases(self, dataset: str, leases: Iterable[tuple[str, str]]) -> int:
        """Remember (key, lease_id) pairs as soon as acquired (FULL); return rows written."""
        now = self._clock()
        rows = [(dataset, key, lease_id, now) for key, lease_id in leases]
        with self._txn(FULL) as conn:
            conn.executemany(
                "INSERT INTO leases (dataset, key, lease_id, acquired_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (dataset, key) DO UPDATE SET lease_id = excluded.lease_id,"
                " acquired_at = excluded.acquired_at, released_at = NULL",
                rows,
            )
        return len(rows)

    def release_lease(self, dataset: str, key: str) -> bool:
        with self._txn(FULL) as conn:
            cursor = conn.execute(
                "UPDATE leases SET released_at = ? WHERE dataset = ? AND key = ?"
                " AND released_at IS NULL",
                (self._clock(), dataset, key),
            )
        return cursor.rowcount == 1

    def leases(
        self, dataset: str, active_only: bool = True, page_size: int = 500
    ) -> Iterator[Lease]:
        """Leases of a dataset, paged by key."""
        active = " AND released_at IS NULL" if active_only else ""
        after = ""
        while True:
            rows = self._conn.execute(
                f"SELECT * FROM leases WHERE dataset = ? AND key > ?{active}"  # noqa: S608
                " ORDER BY key LIMIT ?",
                (dataset, after, page_size),
            ).fetchall()
            yield from (Lease.from_dict(dict(row)) for row in rows)
            if len(rows) < page_size:
                return
            after = rows[-1]["key"]

    def add_approval(self, wave: str, name: str, detail: str | None = None) -> Approval:
        """Record that ``name`` approved ``wave`` (idempotent per name) (FULL)."""
        with self._txn(FULL) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO approvals (wave, name, at, detail) VALUES (?, ?, ?, ?)",
                (wave, name, self._clock(), detail),
            )
        return next(a for a in self.approvals(wave) if a.name == name)

    def approvals(self, wave: str) -> list[Approval]:
        rows = self._conn.execute(
            "SELECT wave, name, at, detail FROM approvals WHERE wave = ? ORDER BY id", (wave,)
        )
        return [Approval.from_dict(dict(row)) for row in rows]

    def fill_object_ids(self, dataset: str, prefix: str, target_prefix: str) -> int:
        """Give the items of ``dataset`` journaled before schema 3 their object id
        (``dataset/`` + the key after ``prefix``) and target key (``target_prefix`` + the
        same), what the inventory now records; a no-op once done. Returns how many."""
        with self._txn(NORMAL) as conn:
            cursor = conn.execute(
                "UPDATE items SET object_id = dataset || '/' || substr(key, ?1), "
                "target_key = COALESCE(target_key, ?2 || substr(key, ?1)) "
                "WHERE dataset = ?3 AND object_id IS NULL AND substr(key, 1, ?4) = ?5",
                (len(prefix) + 1, target_prefix, dataset, len(prefix), prefix),
            )
        return cursor.rowcount

    def forget_manifest_leaves(self) -> int:
        """The manifest was lost: no item is recorded in it any more, so the next run
        writes every verified item's record again (``unrecorded``). Returns how many (FULL)."""
        with self._txn(FULL) as conn:
            cursor = conn.execute(
                "UPDATE items SET manifest_leaf = NULL WHERE manifest_leaf IS NOT NULL"
            )
        return cursor.rowcount

    # ------------------------------------------------------------------ health

    def integrity_check(self) -> str:
        """``ok``, or SQLite's list of problems joined by '; '."""
        rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(row[0]) for row in rows)


_UPSERT_SQL = """
INSERT INTO items (item_id, dataset, key, size, etag, last_modified, content_md5,
                   state, reason, updated_at, object_id, target_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (item_id) DO UPDATE SET
    last_modified = excluded.last_modified,
    object_id = COALESCE(excluded.object_id, items.object_id),
    target_key = COALESCE(excluded.target_key, items.target_key),
    content_md5 = excluded.content_md5,
    state = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                 THEN items.state ELSE excluded.state END,
    reason = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                  THEN items.reason ELSE excluded.reason END,
    plaintext_sha256 = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                            THEN items.plaintext_sha256 END,
    ciphertext_sha256 = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                             THEN items.ciphertext_sha256 END,
    verify_result = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                         THEN items.verify_result END,
    manifest_leaf = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                         THEN items.manifest_leaf END,
    attempts = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                    THEN items.attempts ELSE 0 END,
    updated_at = CASE WHEN items.etag = excluded.etag AND items.size = excluded.size
                      THEN items.updated_at ELSE excluded.updated_at END,
    etag = excluded.etag,
    size = excluded.size
"""


_MAIN_PATH = (ItemState.PENDING, ItemState.COPYING, ItemState.COPIED, ItemState.VERIFIED)


def _ahead(current: ItemState, target: ItemState) -> bool:
    """A late copying/copied mark for an item already further along is a no-op."""
    if target not in (ItemState.COPYING, ItemState.COPIED) or current not in _MAIN_PATH:
        return False
    return _MAIN_PATH.index(current) > _MAIN_PATH.index(target)


def _upsert_row(entry: InventoryEntry, now: str) -> tuple[Any, ...]:
    state = entry.flag or ItemState.PENDING
    if state not in (ItemState.PENDING, ItemState.SKIPPED, ItemState.FLAGGED):
        raise JournalError(f"an inventory entry cannot start as {state.value}")
    return (
        entry.item_id,
        entry.dataset,
        entry.key,
        entry.size,
        entry.etag,
        entry.last_modified,
        entry.content_md5,
        state.value,
        entry.reason,
        now,
        entry.object_id,
        entry.target_key,
    )


def _listed(entry: InventoryEntry) -> tuple[Any, ...]:
    """What an upsert of ``entry`` writes over an unchanged row (same ETag and size)."""
    return (entry.etag, entry.size, entry.last_modified, entry.content_md5)


def _classify(batch: Sequence[InventoryEntry], known: dict[str, tuple[Any, ...]]) -> UpsertCounts:
    new = changed = unchanged = 0
    for entry in batch:
        before = known.get(entry.item_id)
        if before is None:
            new += 1
        elif before == (entry.etag, entry.size):
            unchanged += 1
        else:
            changed += 1
    return UpsertCounts(new, changed, unchanged)


def _filters(state: ItemState | None, dataset: str | None) -> tuple[str, list[Any]]:
    clauses, params = "", list[Any]()
    if state is not None:
        clauses, params = clauses + " AND state = ?", [*params, state.value]
    if dataset is not None:
        clauses, params = clauses + " AND dataset = ?", [*params, dataset]
    return clauses, params


def _item(row: sqlite3.Row) -> Item:
    return Item.from_dict({name: row[name] for name in _ITEM_COLUMNS})
