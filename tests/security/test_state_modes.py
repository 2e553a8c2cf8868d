"""Row 8: the state directory is 0700 and every state file 0600 (journal, manifest,
reports, probe cache, signing key), whether or not the tool created the directory."""

from __future__ import annotations

import stat

import pytest

pytestmark = pytest.mark.stack


def _modes(root):
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in root.rglob("*")}


@pytest.mark.parametrize("existing", [0o755, 0o777, None])
def test_state_files_are_private_whoever_made_the_directory(sec, existing):
    if existing is not None:
        sec.state.mkdir()
        sec.state.chmod(existing)
        (sec.state / "old-report.md").write_text("left by someone")
        (sec.state / "old-report.md").chmod(0o644)
    (sec.src / "a.txt").write_bytes(b"a")
    assert sec.cli("run", str(sec.plan)).returncode == 0
    assert sec.cli("probe", str(sec.plan)).returncode in (0, 3)
    assert stat.S_IMODE(sec.state.stat().st_mode) == 0o700
    modes = _modes(sec.state)
    assert {"journal.sqlite", "manifest.jsonl", "signing.key"} <= set(modes)
    assert any(name.startswith("reports/") for name in modes)
    assert any(name.startswith("probe/") for name in modes)
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if not name.endswith(".pub")  # a public key is public (0644 is fine)
        and mode != (0o700 if (sec.state / name).is_dir() else 0o600)
    }
    assert not loose, loose
