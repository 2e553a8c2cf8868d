"""SOV-16 reads the file system type of the state directory from a mounts table."""

from __future__ import annotations

from pathlib import Path

from hdh_migrate.policy.rules.residency import filesystem_type


def test_longest_mount_prefix_wins_and_missing_paths_use_their_ancestor(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        f"/dev/sda1 / ext4 rw 0 0\nserver:/exp {tmp_path} nfs4 rw 0 0\n"
        f"tmpfs {tmp_path}/fast tmpfs rw 0 0\n",
        "utf-8",
    )
    assert filesystem_type(tmp_path / "not" / "yet", mounts) == "nfs4"
    (tmp_path / "fast").mkdir()
    assert filesystem_type(tmp_path / "fast" / "state", mounts) == "tmpfs"
    assert filesystem_type(Path("/usr"), mounts) == "ext4"
    assert not (tmp_path / "not").exists()
    assert filesystem_type(tmp_path, tmp_path / "no-such-mounts") is None
