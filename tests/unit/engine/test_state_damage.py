"""Damaged or lost state (issue 18 item 7): refused with one line naming the file and the
recovery command (exit 9), never a silent re-upload or regeneration; ``state repair``
rebuilds the journal from the manifest without uploading anything."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from hdh_migrate.backends.memory import drop_store
from hdh_migrate.engine.evidence import StatePaths
from hdh_migrate.engine.run.runner import Migration, plan_digest
from hdh_migrate.engine.state_repair import check, guard, repair
from hdh_migrate.errors import StateError
from hdh_migrate.events import ListReporter
from hdh_migrate.execution import SerialExecutor
from hdh_migrate.integrity import Ed25519FileSigner, ManifestWriter
from hdh_migrate.journal import InventoryEntry, ItemState, Journal
from tests.offline_plan import MemoryTargetClients, one_dataset, parse_offline_plan

N = 12


@pytest.fixture
def env(tmp_path):
    src = tmp_path / "src" / "data"
    src.mkdir(parents=True)
    for i in range(N):
        (src / f"f{i:02}.bin").write_bytes(os.urandom(500 + i))
    store = f"t-{uuid.uuid4().hex}"
    rest = one_dataset(tmp_path / "kek.key", tmp_path / "state")
    plan = parse_offline_plan("state", tmp_path / "src", rest, store=store)
    yield {
        "tmp": tmp_path,
        "plan": plan,
        "paths": StatePaths(tmp_path / "state"),
        "clients": MemoryTargetClients(store),
        "signer": Ed25519FileSigner.generate("unit"),
    }
    drop_store(store)


def run_once(env) -> Any:
    paths: StatePaths = env["paths"]
    paths.root.mkdir(exist_ok=True)
    guard(paths)
    with (
        Journal(paths.journal) as journal,
        ManifestWriter(paths.manifest, env["signer"], "hdh-migrate/unit") as manifest,
    ):
        migration = Migration(
            env["plan"],
            plan_digest(b"plan"),
            journal=journal,
            manifest=manifest,
            executor=SerialExecutor(),
            clients=env["clients"],
            reporter=ListReporter(),
            window=4,
        )
        (outcome,) = migration.run()
        return outcome


def object_records(paths: StatePaths) -> list[dict[str, Any]]:
    lines = paths.manifest.read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("type") == "object"]


# ---------------------------------------------------------------------------- at open


def test_a_garbage_journal_is_refused_naming_the_file_and_the_recovery(env):
    env["paths"].root.mkdir()
    env["paths"].journal.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError) as info:
        Journal(env["paths"].journal)
    assert info.value.exit_code == 9
    line = info.value.one_line()
    assert str(env["paths"].journal) in line and "state repair" in line


def test_a_truncated_journal_is_refused(env):
    run_once(env)
    path = env["paths"].journal
    with Journal(path) as journal:  # checkpoint everything into the file
        journal._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateError, match="truncated"):
        Journal(path)


def test_a_journal_without_its_tables_is_refused_not_left_to_fail_later(env):
    run_once(env)
    with sqlite3.connect(env["paths"].journal) as conn:
        conn.execute("DROP TABLE datasets")
    with pytest.raises(StateError, match=r"lacks table.*datasets"):
        Journal(env["paths"].journal)


def test_after_an_unclean_stop_integrity_check_runs_and_names_damage(env):
    run_once(env)
    path = env["paths"].journal
    with Journal(path) as journal:
        journal._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = journal._conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    for offset in range(2 * page, len(data), page):  # scribble over every page but 1-2
        data[offset + 8 : offset + 40] = os.urandom(32)
    path.write_bytes(bytes(data))
    path.with_name(path.name + "-wal").write_bytes(os.urandom(64))  # the crash left a WAL
    with pytest.raises(StateError, match=r"integrity check|malformed|damaged"):
        Journal(path)


def test_disk_full_is_one_line_naming_the_journal(env):
    env["paths"].root.mkdir()
    with Journal(env["paths"].journal) as journal:
        journal._conn.execute("PRAGMA max_page_count = 20")  # a full disk, as SQLite sees it
        entries = (InventoryEntry("ds", f"k{i:06}", 1, "e" * 30) for i in range(5000))
        with pytest.raises(StateError) as info:
            journal.upsert_inventory(entries)
    assert info.value.exit_code == 9
    assert info.value.one_line().startswith(f"disk full writing the journal {env['paths'].journal}")


# ---------------------------------------------------------------------------- lost files


def test_a_deleted_journal_stops_the_run_and_repair_rebuilds_it_without_uploads(env):
    assert run_once(env).verified == N
    puts = env["clients"].puts
    env["paths"].journal.unlink()
    with pytest.raises(StateError, match=r"journal .* is missing .* upload them all again"):
        run_once(env)
    assert env["clients"].puts == puts  # nothing uploaded again

    outcome = repair(env["plan"], env["paths"], env["clients"])
    assert (outcome.journal_rebuilt, outcome.restored, outcome.left_out) == (True, N, [])
    assert check(env["paths"]).problems == []
    again = run_once(env)
    assert (again.copied, env["clients"].puts) == (0, puts)
    with Journal(env["paths"].journal) as journal:
        assert {c.state: c.count for c in journal.counts("ds")} == {ItemState.VERIFIED: N}


def test_repair_leaves_out_an_object_whose_target_header_differs(env):
    run_once(env)
    target = env["clients"].target
    body = bytearray(target.open_read("enc/f03.bin").read())
    body[30] ^= 1  # inside the salt: the header no longer hashes to the recorded value
    target.write("enc/f03.bin", io.BytesIO(bytes(body)), len(body))
    shutil.move(env["paths"].journal, env["tmp"] / "lost.sqlite")
    puts = env["clients"].puts

    outcome = repair(env["plan"], env["paths"], env["clients"])
    assert outcome.restored == N - 1
    assert [o for o, _ in outcome.left_out] == ["ds/f03.bin"]
    again = run_once(env)
    assert again.copied == 1 and env["clients"].puts == puts + 1


def test_a_damaged_journal_is_moved_aside_and_rebuilt(env):
    run_once(env)
    env["paths"].journal.write_bytes(b"garbage" * 1000)
    outcome = repair(env["plan"], env["paths"], env["clients"])
    assert outcome.restored == N and any(".damaged-" in p for p in outcome.moved_aside)
    assert Path(outcome.moved_aside[0]).read_bytes().startswith(b"garbage")


def test_a_deleted_manifest_is_not_silently_regenerated(env):
    run_once(env)
    env["paths"].manifest.unlink()
    with pytest.raises(StateError, match=r"manifest .* is missing .* 12 object record"):
        run_once(env)
    assert not env["paths"].manifest.exists()

    outcome = repair(env["plan"], env["paths"], env["clients"])
    assert outcome.manifest_reissued == N
    puts = env["clients"].puts
    again = run_once(env)
    assert again.copied == 0 and env["clients"].puts == puts
    assert len(object_records(env["paths"])) == N
