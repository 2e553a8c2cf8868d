"""The plan's state: found from the plan file wherever the command runs, held by one
writer at a time, and described when a run resumes it."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from hdh_migrate.cli.main import run
from hdh_migrate.engine.state_lock import StateLockedError, state_lock
from hdh_migrate.journal import Journal
from hdh_migrate.plan import load_plan
from tests.offline_plan import offline_migration, offline_plan_text

WAVES = "waves:\n  - name: w\n    datasets:\n      - {name: ds, source: disk, target: mem}\n"


def write_plan(tmp_path, state_line="", src=None, store="unused"):
    folder = tmp_path / "plans"
    folder.mkdir(exist_ok=True)
    path = folder / "plan.yaml"
    keys = (
        f'keys:\n  k1: {{kind: file, path: "{tmp_path}/k1", create: true}}\n'
        f'  k2: {{kind: file, path: "{tmp_path}/k2", create: true}}\ndefaults: {{key: k1}}\n'
    )
    path.write_text(
        offline_plan_text("unit", src or tmp_path, keys + state_line + WAVES, store=store)
    )
    return path


def test_a_relative_state_dir_is_taken_from_the_plan_files_directory(tmp_path, monkeypatch):
    path = write_plan(tmp_path, 'state_dir: "state/here"\n')
    monkeypatch.chdir(tmp_path)  # anywhere but the plan's directory
    assert load_plan(path).state_path == path.parent / "state" / "here"
    absolute = write_plan(tmp_path, f'state_dir: "{tmp_path}/abs"\n')
    assert load_plan(absolute).state_path == tmp_path / "abs"


def test_the_default_state_dir_is_next_to_the_plan_unless_an_old_one_is_here(tmp_path, monkeypatch):
    path = write_plan(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_plan(path).state_path == path.parent / ".hdh-migrate" / "unit"
    legacy = elsewhere / ".hdh-migrate" / "unit"
    legacy.mkdir(parents=True)
    Journal(legacy / "journal.sqlite").close()  # state an earlier version kept under cwd
    assert load_plan(path).state_path == legacy


def test_status_from_another_directory_finds_the_journal(tmp_path, monkeypatch, capsys):
    path = write_plan(tmp_path, 'state_dir: "state"\n')
    (path.parent / "state").mkdir()
    with Journal(path.parent / "state" / "journal.sqlite") as journal:
        journal.ensure_dataset("ds", "w")
    monkeypatch.chdir(tmp_path)
    assert run(["status", str(path), "--json"]) == 0, capsys.readouterr().err
    assert '"state": "new"' in capsys.readouterr().out


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    with (
        state_lock(tmp_path, "run"),
        pytest.raises(StateLockedError) as caught,
        state_lock(tmp_path, "keys rotate"),
    ):
        pass
    message = caught.value.one_line()
    assert f"PID {os.getpid()} on {socket.gethostname()} (run)" in message
    assert caught.value.exit_code == 9 and "\n" not in message
    with state_lock(tmp_path, "keys rotate"):  # released on exit
        pass


HOLD = """
import sys, time
from pathlib import Path
from hdh_migrate.engine.state_lock import state_lock
with state_lock(Path(sys.argv[1]), "run"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_run_verify_and_rotate_refuse_a_held_state_and_a_killed_holder_frees_it(tmp_path, capsys):
    path = write_plan(tmp_path, 'state_dir: "state"\n')
    state = path.parent / "state"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        for argv in (["run", str(path)], ["verify", str(path)],
                     ["keys", "rotate", str(path), "--from", "k1", "--to", "k2"]):  # fmt: skip
            code = run(argv)
            err = capsys.readouterr().err.strip()
            assert code == 9, (argv, err)
            assert f"PID {holder.pid} on {socket.gethostname()}" in err
            assert len(err.splitlines()) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            with state_lock(state, "run"):
                break
        except StateLockedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_run_says_which_journal_it_resumes_and_how_far_it_got(tmp_path):
    import uuid

    from hdh_migrate.backends.memory import drop_store
    from hdh_migrate.engine.run.session import describe_position, journal_position
    from hdh_migrate.integrity import Ed25519FileSigner
    from tests.offline_plan import MemoryTargetClients

    (tmp_path / "data").mkdir()
    for n in range(3):
        (tmp_path / "data" / f"f{n}").write_bytes(b"x" * n)
    store = f"t-{uuid.uuid4().hex}"
    plan = load_plan(write_plan(tmp_path, 'state_dir: "state"\n', tmp_path / "data", store))
    clients = MemoryTargetClients(store)
    state = plan.state_path
    state.mkdir(parents=True)
    lines, signer = [], Ed25519FileSigner.generate("u")
    for _ in range(2):
        with offline_migration(plan, state, clients, signer=signer) as job:
            lines.append(describe_position(journal_position(job)))
            job.run()
            job.finish("done")
    drop_store(store)
    assert lines[0] == f"new journal {state / 'journal.sqlite'}"
    assert lines[1].startswith(f"resuming journal {state / 'journal.sqlite'} (1 earlier run(s)")
    assert ", done): " in lines[1]
    assert lines[1].endswith("3 object(s): 3 verified")


def test_each_run_records_how_it_ended(tmp_path):
    import uuid

    from hdh_migrate.backends.memory import drop_store
    from hdh_migrate.engine.run import session

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_bytes(b"x")
    store = f"t-{uuid.uuid4().hex}"  # the plan's memory target: no client is substituted
    path = write_plan(tmp_path, 'state_dir: "state"\n', tmp_path / "data", store)
    try:
        with session.migration(path) as job:
            job.run()
        with pytest.raises(RuntimeError), session.migration(path) as job:
            job.run()
            raise RuntimeError("boom")
        with session.migration(path) as job:
            line = session.describe_position(session.journal_position(job))
    finally:
        drop_store(store)
    with Journal(path.parent / "state" / "journal.sqlite") as journal:
        assert [r.status for r in journal.runs()] == ["done", "failed"]
    assert "2 earlier run(s)" in line and ", failed): " in line
