"""Row 2: a symbolic link in a local source is never followed out of the root: not by the
listing, not by stat, not by a read (even of a link swapped in after listing)."""

from __future__ import annotations

import io
import os

import pytest

from hdh_migrate.backends.local import LocalBackend
from hdh_migrate.errors import NotFoundError, PermanentError

SECRET = b"root:x:0:0:secret-outside-the-root\n"


@pytest.fixture
def outside(tmp_path):
    victim = tmp_path / "outside" / "passwd"
    victim.parent.mkdir()
    victim.write_bytes(SECRET)
    return victim


@pytest.fixture
def planted(tmp_path, outside):
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.txt").write_bytes(b"fine")
    (root / "passwd-link").symlink_to(outside)
    (root / "etcdir").symlink_to(outside.parent, target_is_directory=True)
    return LocalBackend(root)


def test_links_are_not_listed(planted):
    assert [i.key for i in planted.list()] == ["ok.txt"]


@pytest.mark.parametrize("key", ["passwd-link", "etcdir/passwd"])
def test_links_are_not_read_nor_stated(planted, key):
    with pytest.raises(NotFoundError):
        planted.open_read(key)
    with pytest.raises(NotFoundError):
        planted.stat(key)


def test_a_file_swapped_for_a_link_after_listing_is_not_read(planted, outside):
    listed = list(planted.list())
    os.replace(planted.root / "passwd-link", planted.root / "ok.txt")
    assert [i.key for i in listed] == ["ok.txt"]
    with pytest.raises(NotFoundError):
        planted.open_read("ok.txt").read()


def test_a_write_through_a_linked_directory_is_refused(planted, outside):
    with pytest.raises(PermanentError):
        planted.write("etcdir/new.txt", io.BytesIO(b"x"), 1)
    assert not (outside.parent / "new.txt").exists()


@pytest.mark.stack
def test_a_run_and_restore_never_carry_a_linked_file(sec, outside, tmp_path):
    (sec.src / "ok.txt").write_bytes(b"fine")
    (sec.src / "passwd-link").symlink_to(outside)
    (sec.src / "etcdir").symlink_to(outside.parent, target_is_directory=True)
    done = sec.cli("run", str(sec.plan))
    assert done.returncode == 0, done.stderr
    assert sorted(i.key for i in sec.target.list("enc/")) == ["enc/ok.txt"]
    out = tmp_path / "restored"
    back = sec.cli("restore", str(sec.plan), "--dataset", "ds", "--to", str(out))
    assert back.returncode == 0, back.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert [p.name for p in files] == ["ok.txt"]
    assert all(SECRET not in p.read_bytes() for p in files)
