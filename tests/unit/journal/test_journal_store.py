"""The SQLite journal: schema, inventory upserts, item and dataset state machines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hdh_migrate.journal import (
    CopyResult,
    DatasetState,
    InvalidTransition,
    InventoryEntry,
    Item,
    ItemState,
    Journal,
    JournalError,
    JournalStore,
    NullJournal,
    item_id_for,
    schema,
)
from hdh_migrate.journal.schema import LATEST


def entry(i: int, dataset: str = "ds", etag: str = "e1", size: int | None = None) -> InventoryEntry:
    return InventoryEntry(dataset, f"dir/obj é {i}", size if size is not None else i, etag)


def result(i: int) -> CopyResult:
    return CopyResult(f"{i:064x}", f"{i + 1:064x}", f"t/{i}", i + 64, f"{i + 2:064x}", "etag", None)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    with Journal(tmp_path / "journal.db") as j:
        yield j  # type: ignore[misc]


def test_schema_wal_and_version(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as j:
        assert j.schema_version == LATEST == 4
        assert j.integrity_check() == "ok"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(JournalError, match="schema version 99"):
        Journal(path)


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as j:
        j.upsert_inventory(entry(i) for i in range(10))
    with Journal(path) as j:
        assert sum(c.count for c in j.counts()) == 10


def test_item_identity_is_deterministic() -> None:
    assert item_id_for("ds", "a/b") == item_id_for("ds", "a/b")
    assert item_id_for("ds", "a/b") != item_id_for("ds/a", "b")
    assert len(item_id_for("ds", "k")) == 32 and entry(1).item_id == item_id_for(
        "ds", "dir/obj é 1"
    )


def test_upsert_classifies_and_resets_changed_sources(journal: Journal) -> None:
    counts = journal.upsert_inventory((entry(i) for i in range(2500)), batch_size=1000)
    assert (counts.new, counts.changed, counts.unchanged) == (2500, 0, 0)
    first = entry(0).item_id
    assert journal.mark_copying(first)
    assert journal.mark_copied(first, result(0))
    assert journal.mark_verified(first, "full")
    second = entry(1).item_id
    journal.mark_copying(second)
    journal.mark_copied(second, result(1))
    again = journal.upsert_inventory([entry(0), entry(1, etag="e2"), entry(9999)])
    assert (again.new, again.changed, again.unchanged) == (1, 1, 1)
    assert journal.get("ds", "dir/obj é 0").state is ItemState.VERIFIED  # type: ignore[union-attr]
    changed = journal.get_by_id(second)
    assert changed is not None and changed.state is ItemState.PENDING
    assert changed.etag == "e2" and changed.ciphertext_sha256 is None and changed.attempts == 0


def test_an_unchanged_listing_writes_no_row_and_a_new_date_or_md5_is_written(
    journal: Journal,
) -> None:
    """A no-op re-run only reads the journal; what the upsert would change is still written."""
    journal.upsert_inventory(entry(i) for i in range(50))
    before = journal._conn.total_changes
    again = journal.upsert_inventory(entry(i) for i in range(50))
    assert (again.new, again.changed, again.unchanged) == (0, 0, 50)
    assert journal._conn.total_changes == before  # not one row rewritten
    dated = InventoryEntry("ds", "dir/obj é 3", 3, "e1", last_modified="2026-12-03T00:00:00Z")
    summed = InventoryEntry("ds", "dir/obj é 4", 4, "e1", content_md5="ab" * 16)
    counts = journal.upsert_inventory([dated, summed, entry(5)])
    assert (counts.new, counts.changed, counts.unchanged) == (0, 0, 3)
    assert journal._conn.total_changes == before + 2
    got = journal.get("ds", "dir/obj é 3"), journal.get("ds", "dir/obj é 4")
    assert got[0] is not None and got[0].last_modified == "2026-12-03T00:00:00Z"
    assert got[1] is not None and got[1].content_md5 == "ab" * 16


def test_flagged_and_skipped_entries(journal: Journal) -> None:
    journal.upsert_inventory(
        [
            InventoryEntry("ds", "huge", 10**13, "e", flag=ItemState.FLAGGED, reason="oversized"),
            InventoryEntry("ds", "cold", 1, "e", flag=ItemState.SKIPPED, reason="archive tier"),
        ]
    )
    huge = journal.get("ds", "huge")
    assert huge is not None and (huge.state, huge.reason) == (ItemState.FLAGGED, "oversized")
    with pytest.raises(JournalError):
        journal.upsert_inventory([InventoryEntry("ds", "x", 1, "e", flag=ItemState.COPIED)])


def test_item_life_cycle_and_idempotency(journal: Journal) -> None:
    journal.upsert_inventory([entry(1)])
    item_id = entry(1).item_id
    assert journal.mark_copying(item_id)
    assert journal.mark_copying(item_id) is False  # repeated: no change
    assert journal.mark_copied(item_id, result(1))
    assert journal.mark_copied(item_id, result(1)) is False
    assert journal.mark_copying(item_id) is False  # a late duplicate: already further along
    assert journal.mark_verified(item_id, "sample")
    assert journal.mark_copied(item_id, result(1)) is False
    item = journal.get_by_id(item_id)
    assert item is not None
    assert (item.state, item.attempts, item.verify_mode, item.verify_result) == (
        ItemState.VERIFIED,
        1,
        "sample",
        "ok",
    )
    assert item.ciphertext_sha256 == result(1).ciphertext_sha256 and item.target_size == 65
    with pytest.raises(InvalidTransition):
        journal.reset_to_pending(item_id)
    with pytest.raises(JournalError, match="no item"):
        journal.mark_copying("0" * 32)


def test_failures_with_reasons_and_retry(journal: Journal) -> None:
    journal.upsert_inventory(entry(i) for i in range(5))
    for i in range(3):
        journal.mark_copying(entry(i).item_id)
        journal.mark_failed(entry(i).item_id, "throttled", "503 SlowDown after 5 retries")
    assert [f.reason for f in journal.failures()] == ["throttled"] * 3
    assert journal.mark_copying(entry(0).item_id)  # retry counts a second attempt
    assert journal.get_by_id(entry(0).item_id).attempts == 2  # type: ignore[union-attr]
    with pytest.raises(InvalidTransition):
        journal.mark_verified(entry(4).item_id, "full")  # pending cannot be verified


def test_pending_cursor_pages_and_survives_updates(journal: Journal) -> None:
    journal.upsert_inventory(entry(i) for i in range(1234))
    seen: list[Item] = []
    for item in journal.pending(page_size=100):
        seen.append(item)
        journal.mark_copying(item.item_id)  # state changes while iterating
    assert len(seen) == 1234 and len({i.item_id for i in seen}) == 1234
    assert list(journal.pending()) == []
    assert len(list(journal.in_copying())) == 1234


def test_counts_and_bytes(journal: Journal) -> None:
    journal.upsert_inventory(entry(i, "a", size=10) for i in range(4))
    journal.upsert_inventory(entry(i, "b", size=7) for i in range(3))
    journal.mark_copying(entry(0, "a").item_id)
    counts = {(c.dataset, c.state): (c.count, c.bytes) for c in journal.counts()}
    assert counts == {
        ("a", ItemState.COPYING): (1, 10),
        ("a", ItemState.PENDING): (3, 30),
        ("b", ItemState.PENDING): (3, 21),
    }
    assert {c.dataset for c in journal.counts("b")} == {"b"}


def test_uploads_are_forgotten_when_copied(journal: Journal) -> None:
    journal.upsert_inventory([entry(1), entry(2)])
    for i in (1, 2):
        journal.mark_copying(entry(i).item_id)
        journal.record_upload(entry(i).item_id, f"up-{i}", "bucket", f"k{i}")
    journal.mark_copied(entry(1).item_id, result(1))
    assert [u.upload_id for u in journal.open_uploads()] == ["up-2"]
    journal.forget_upload("up-2")
    assert journal.open_uploads() == []


def test_resume_headers_are_kept_per_source_version_until_copied(journal: Journal) -> None:
    journal.upsert_inventory([entry(1), entry(2), entry(3, etag="e3")])
    for i in (1, 2):
        journal.record_resume(entry(i).item_id, "e1", bytes([i]) * 100)
    journal.record_resume(entry(3).item_id, "old", b"h3")  # the source changed since
    assert journal.resume_header(entry(1).item_id, "e1") == b"\x01" * 100
    assert journal.resume_header(entry(1).item_id, "e2") is None  # another version
    assert journal.resumable_keys("ds") == {entry(1).key, entry(2).key}
    journal.record_resume(entry(2).item_id, "e1", b"new")  # replaced, never two rows
    assert journal.resume_header(entry(2).item_id, "e1") == b"new"
    journal.mark_copying(entry(1).item_id)
    journal.mark_copied(entry(1).item_id, result(1))
    assert journal.resume_header(entry(1).item_id, "e1") is None
    assert journal.resumable_keys("ds") == {entry(2).key}
    assert journal.resumable_keys("other") == set()


def test_dataset_cutover_machine(journal: Journal) -> None:
    assert journal.ensure_dataset("ds", "wave-1") is DatasetState.NEW
    path = [
        DatasetState.COPYING,
        DatasetState.VERIFIED,
        DatasetState.FROZEN,
        DatasetState.DELTA_SYNCED,
        DatasetState.ROLLED_BACK,
        DatasetState.FROZEN,
        DatasetState.DELTA_SYNCED,
        DatasetState.FINAL_VERIFIED,
        DatasetState.SWITCHED,
        DatasetState.FINALIZED,
    ]
    for state in path:
        assert journal.move_dataset("ds", state, detail=f"to {state}") is not None
    assert journal.move_dataset("ds", DatasetState.FINALIZED) is None  # idempotent
    with pytest.raises(InvalidTransition):
        journal.move_dataset("ds", DatasetState.ROLLED_BACK)  # point of no return
    history = journal.transitions("ds")
    assert [t.to_state for t in history] == path
    assert history[4].from_state is DatasetState.DELTA_SYNCED
    journal.ensure_dataset("other", "wave-1")
    with pytest.raises(InvalidTransition):
        journal.move_dataset("other", DatasetState.SWITCHED)
    with pytest.raises(JournalError):
        journal.move_dataset("missing", DatasetState.COPYING)


def test_leases_and_approvals(journal: Journal) -> None:
    journal.record_leases("ds", ((f"k{i:04d}", f"lease-{i}") for i in range(1200)))
    assert len(list(journal.leases("ds", page_size=100))) == 1200
    assert journal.release_lease("ds", "k0001") and not journal.release_lease("ds", "k0001")
    assert len(list(journal.leases("ds"))) == 1199
    assert len(list(journal.leases("ds", active_only=False))) == 1200
    journal.add_approval("wave-1", "alice", "change #42")
    journal.add_approval("wave-1", "alice")
    journal.add_approval("wave-1", "bob")
    assert [a.name for a in journal.approvals("wave-1")] == ["alice", "bob"]


def test_runs(journal: Journal) -> None:
    journal.begin_run("r1", "sha256:abc", "0.1.0")
    journal.begin_run("r1", "sha256:abc", "0.1.0")
    run = journal.end_run("r1", "ok")
    assert (run.status, len(journal.runs())) == ("ok", 1)


def test_values_round_trip() -> None:
    item = Item("id", "ds", "k", 1, "e", ItemState.COPIED, attempts=2)
    data = item.to_dict()
    assert data["state"] == "copied" and Item.from_dict(data) == item
    assert CopyResult.from_dict(result(3).to_dict()) == result(3)


def test_null_journal_records_nothing(tmp_path: Path) -> None:
    null: JournalStore = NullJournal()
    assert null.upsert_inventory(entry(i) for i in range(5)).new == 5
    assert null.mark_copying("x") is False
    assert list(null.pending()) == [] and null.counts() == [] and null.runs() == []
    assert null.integrity_check() == "ok"
    real: JournalStore = Journal(tmp_path / "j.db")
    real.close()


def test_a_version_1_journal_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    schema._apply(conn, schema.MIGRATIONS[0], "2026-01-01T00:00:00Z")
    conn.execute(
        "INSERT INTO items (item_id, dataset, key, size, etag, state, updated_at)"
        " VALUES ('id1', 'ds', 'k', 1, 'e', 'verified', 'then')"
    )
    conn.close()
    with Journal(path) as j:
        assert j.schema_version == LATEST
        assert j.resume_header("id1", "e") is None  # migration 3: the resumes table
        item = j.get_by_id("id1")
        assert item is not None and item.state is ItemState.VERIFIED and item.manifest_leaf is None
        assert item.object_id is None  # filled from the plan's prefixes (test_object_ids)
        assert j.integrity_check() == "ok"


def test_unrecorded_items_for_the_manifest(journal: Journal) -> None:
    journal.upsert_inventory(entry(i) for i in range(4))
    for i in range(4):
        journal.mark_copying(entry(i).item_id)
        journal.mark_copied(entry(i).item_id, result(i))
        journal.mark_verified(entry(i).item_id, "full")
    assert journal.mark_recorded(entry(0).item_id, 1)
    assert journal.mark_recorded(entry(1).item_id, 2)
    assert not journal.mark_recorded(entry(1).item_id, 2)  # idempotent
    # The manifest holds 2 leaves (0 = run, 1 = item 0): item 1's leaf was lost in a crash.
    assert [i.key for i in journal.unrecorded(manifest_size=2)] == [
        entry(1).key,
        entry(2).key,
        entry(3).key,
    ]
    assert len(list(journal.unrecorded(manifest_size=3))) == 2
    journal.upsert_inventory([entry(0, etag="changed")])
    assert journal.get_by_id(entry(0).item_id).manifest_leaf is None  # type: ignore[union-attr]


def test_mark_verified_many_is_one_transaction_of_legal_moves(tmp_path):
    from hdh_migrate.journal import CopyResult, InventoryEntry, ItemState, Journal
    from hdh_migrate.journal.models import JournalError

    with Journal(tmp_path / "j.sqlite") as journal:
        journal.ensure_dataset("ds", "w1")
        entries = [InventoryEntry("ds", f"k{i}", 1, f"e{i}") for i in range(3)]
        journal.upsert_inventory(entries)
        copy = CopyResult("p", "c", "t", 1, "h")
        for entry in entries[:2]:
            journal.mark_copying(entry.item_id)
        journal.mark_copied_many((e.item_id, copy) for e in entries[:2])
        assert journal.mark_verified_many([(e.item_id, "metadata") for e in entries[:2]]) == 2
        verified = list(journal.items(ItemState.VERIFIED, "ds"))
        assert {i.key for i in verified} == {"k0", "k1"}
        assert {i.verify_mode for i in verified} == {"metadata"}
        with pytest.raises(JournalError):  # k2 is pending: refused, the group rolled back
            journal.mark_verified_many([(entries[0].item_id, "full"), (entries[2].item_id, "full")])
        assert journal.get("ds", "k0").verify_mode == "metadata"
        assert journal.get("ds", "k2").state == ItemState.PENDING
