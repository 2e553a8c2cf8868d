"""Rows 3 and 10 of issue 11, item 5 of issue 18: restore writes only inside ``--to``,
never through a planted link, never over another object; every object it cannot restore
is named (exit 4 or 5) and the rest is restored; temp files are bounded, private and
cleaned after a kill; a second restore resumes."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.stack

LONG = "L" * 240 + ".csv"  # fits a file name; ".NAME.hdh-restore-PID" did not


def _restore(world, out, *extra):
    return world.cli("restore", str(world.plan), "--dataset", "ds", "--to", str(out), *extra)


def _files(out):
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_conflicts_aliases_unsafe_and_unverified_keys_are_named_never_an_abort(azure, tmp_path):
    good = {f"data/ok{i}.txt": f"ok {i}".encode() for i in range(8)}
    hostile = {
        "data/a": b"file a",
        "data/a/b": b"file under a",
        "data/x/b.txt": b"single slash",
        "data/x//b.txt": b"double slash",
        "data//abs/x": b"absolute",
        "data/" + LONG: b"long name",
    }
    for key, data in {**good, **hostile}.items():
        azure.put(key, data)
    assert azure.cli("run", str(azure.plan)).returncode in (0, 5)
    for key in ("enc/ok0.txt", "enc/ok1.txt"):  # two objects fail a later verification
        azure.target.write(key, io.BytesIO(b"junk"), 4)
    assert azure.cli("verify", str(azure.plan), "--mode", "full").returncode == 4
    out = tmp_path / "out"
    done = _restore(azure, out, "--json")
    assert done.returncode in (4, 5), done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    report = __import__("json").loads(done.stdout)
    failed = {f["key"] for f in report["failed"]}
    assert {"data/ok0.txt", "data/ok1.txt", "data//abs/x", "data/x//b.txt"} <= failed
    assert len({"data/a", "data/a/b"} & failed) == 1  # the file/directory conflict, named
    restored = _files(out)
    assert {f"ok{i}.txt" for i in range(2, 8)} <= set(restored)
    assert LONG in restored and (out / LONG).read_bytes() == b"long name"
    assert (out / "x" / "b.txt").read_bytes() == b"single slash"  # never overwritten
    assert report["restored"] + len(failed) == len(good) + len(hostile)
    assert not (out / ".hdh-restore-tmp").exists()


def test_planted_links_are_never_written_through(sec, tmp_path):
    (sec.src / "sub").mkdir()
    (sec.src / "sub" / "f.txt").write_bytes(b"secret plaintext")
    (sec.src / "g.txt").write_bytes(b"more plaintext")
    assert sec.cli("run", str(sec.plan)).returncode == 0
    victim_dir, victim = tmp_path / "victim", tmp_path / "victim.txt"
    victim_dir.mkdir()
    victim.write_bytes(b"untouched")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(victim_dir, target_is_directory=True)
    (out / "g.txt").symlink_to(victim)
    done = _restore(sec, out)
    assert done.returncode == 5, done.stderr
    assert "sub/f.txt" in done.stderr and "g.txt" in done.stderr
    assert list(victim_dir.iterdir()) == [] and victim.read_bytes() == b"untouched"


def test_a_predictable_temp_name_cannot_be_hijacked(stack, sec, tmp_path, monkeypatch):
    """The old temp name was ``.NAME.hdh-restore-PID``: a link planted there redirected
    the plaintext. In-process, so the PID is the one the restore uses."""
    from hdh_migrate.engine.run.session import restore

    (sec.src / "f.txt").write_bytes(b"secret plaintext")
    assert sec.cli("run", str(sec.plan)).returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"untouched")
    out = tmp_path / "out"
    out.mkdir()
    (out / f".f.txt.hdh-restore-{os.getpid()}").symlink_to(victim)
    outcome = restore(sec.plan, "ds", out)
    assert victim.read_bytes() == b"untouched"
    assert outcome.restored == 1 and (out / "f.txt").read_bytes() == b"secret plaintext"
    assert not (out / "f.txt").is_symlink()


def test_restored_files_are_0600_and_directories_0700_and_a_rerun_resumes(sec, tmp_path):
    (sec.src / "d" / "e").mkdir(parents=True)
    (sec.src / "d" / "e" / "f.txt").write_bytes(b"plaintext")
    (sec.src / "top.txt").write_bytes(b"top")
    assert sec.cli("run", str(sec.plan)).returncode == 0
    out = tmp_path / "out"
    assert _restore(sec, out).returncode == 0
    assert stat.S_IMODE((out / "d" / "e" / "f.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "top.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "d").stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "d" / "e").stat().st_mode) == 0o700
    inode = (out / "top.txt").stat().st_ino
    again = _restore(sec, out)
    assert again.returncode == 0, again.stderr
    assert "2 already there" in again.stdout and (out / "top.txt").stat().st_ino == inode
    (out / "top.txt").unlink()
    (out / "top.txt").write_bytes(b"someone else's file")
    clash = _restore(sec, out)
    assert clash.returncode == 5 and "top.txt" in clash.stderr
    assert (out / "top.txt").read_bytes() == b"someone else's file"


def test_a_restore_killed_mid_file_leaves_no_plaintext_after_the_next_one(sec, tmp_path):
    big = os.urandom(1 << 20) * 48
    (sec.src / "big.bin").write_bytes(big)
    assert sec.cli("run", str(sec.plan)).returncode == 0
    out = tmp_path / "out"
    args = ["restore", str(sec.plan), "--dataset", "ds", "--to", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "hdh_migrate", *args], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        partial = [p for p in out.rglob("*") if p.is_file() and p.stat().st_size > 0]
        if partial:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the restore ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [p for p in out.rglob("*") if p.is_file()], "a temp file was being written"
    done = _restore(sec, out)
    assert done.returncode == 0, done.stderr
    assert _files(out) == ["big.bin"] and (out / "big.bin").read_bytes() == big
