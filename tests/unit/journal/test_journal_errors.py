"""SQLite failures on the journal are one-line state errors naming the file (exit 9)."""

import pytest

from hdh_migrate.errors import StateError
from hdh_migrate.journal import InventoryEntry, Journal


def test_a_file_that_is_not_a_journal_is_named(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is not an SQLite database, just garbage " * 200)
    with pytest.raises(StateError) as caught:
        Journal(path)
    assert caught.value.exit_code == 9
    assert str(path) in caught.value.one_line() and "\n" not in caught.value.one_line()


def test_a_full_disk_is_named(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        journal.ensure_dataset("ds", "w")
        pages = journal._conn.execute("PRAGMA page_count").fetchone()[0]
        journal._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL soon
        entries = (InventoryEntry("ds", f"key-{n:06d}" * 8, n, f"etag-{n}") for n in range(5000))
        with pytest.raises(StateError) as caught:
            journal.upsert_inventory(entries)
    message = caught.value.one_line()
    assert str(path) in message and "full" in message and caught.value.exit_code == 9


def test_status_on_a_damaged_journal_exits_9_naming_it(tmp_path, capsys):
    from hdh_migrate.cli.main import run
    from tests.offline_plan import offline_plan_text

    rest = f'state_dir: "{tmp_path}/state"\nwaves:\n  - name: w\n    datasets:\n'
    rest += "      - {name: ds, source: disk, target: mem}\n"
    plan = tmp_path / "plan.yaml"
    plan.write_text(offline_plan_text("unit", tmp_path, rest, store="unused"))
    (tmp_path / "state").mkdir()
    journal = tmp_path / "state" / "journal.sqlite"
    journal.write_bytes(b"garbage " * 1000)
    assert run(["status", str(plan)]) == 9
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(journal) in err and "report it" not in err
