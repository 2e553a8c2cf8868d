"""Rows 5 and 12: every path to key material checks its mode (a KEK given as
``ref: ${file:…}`` included), and an SFTP source's ``key_file:`` is the key it logs in with
(on the real sshd), through the same check."""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack


def _set_key(sec, section: str) -> None:
    text = sec.plan.read_text()
    start, end = text.index("keys:"), text.index("defaults:")
    sec.plan.write_text(text[:start] + "keys:\n  kek: " + section + "\n" + text[end:])


@pytest.mark.parametrize(("mode", "code"), [(0o644, 7), (0o640, 7), (0o600, 0)])
def test_a_kek_reference_file_is_refused_unless_private(sec, ledger, mode, code):
    b64 = sec.root / "kek.b64"
    b64.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    b64.chmod(mode)
    ledger.key_files.append(b64)
    _set_key(sec, f'{{kind: file, ref: "${{file:{b64}}}"}}')
    (sec.src / "a.txt").write_bytes(b"a")
    done = sec.cli("run", str(sec.plan))
    assert done.returncode == code, done.stderr
    if code:
        assert "chmod 600" in done.stderr and "Traceback" not in done.stderr


def _sftp_plan(sec, stack, key_file: Path, root: str) -> None:
    text = sec.plan.read_text().replace(
        "sources:\n",
        "sources:\n  sftp:\n    kind: sftp\n"
        f"    host: {stack.sftp_host}\n    port: {stack.sftp_port}\n"
        f"    user: {stack.sftp_user}\n    key_file: {key_file}\n"
        f"    known_hosts: {stack.sftp_known_hosts}\n    root: {root}\n",
    )
    sec.plan.write_text(text.replace("source: disk", "source: sftp"))


@pytest.fixture
def sftp_dir(stack):
    folder = Path(stack.sftp_root) / f"hdh-sec-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    (folder / "s.txt").write_bytes(b"over sftp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_sftp_key_file_is_used_to_log_in(sec, stack, sftp_dir):
    _sftp_plan(sec, stack, Path(stack.sftp_key_path), str(sftp_dir))
    done = sec.cli("run", str(sec.plan))
    assert done.returncode == 0, done.stderr
    assert [i.key for i in sec.target.list("enc/")] == ["enc/s.txt"]


def test_an_sftp_key_file_readable_by_others_is_refused(sec, stack, sftp_dir):
    shared = sec.root / "shared_ed25519"
    shutil.copyfile(stack.sftp_key_path, shared)
    shared.chmod(0o644)
    _sftp_plan(sec, stack, shared, str(sftp_dir))
    done = sec.cli("run", str(sec.plan))
    assert done.returncode == 7, done.stderr
    assert "chmod 600" in done.stderr
