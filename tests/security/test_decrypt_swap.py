"""Row 11: ``decrypt s3://…`` without ``--object-id`` still checks the object id in the
header against the key it was read from (derived from the plan), so an object swapped in
from another key is refused."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.stack


def test_a_swapped_object_is_refused_without_object_id(sec, tmp_path):
    (sec.src / "a.txt").write_bytes(b"patient A")
    (sec.src / "b.txt").write_bytes(b"patient B")
    assert sec.cli("run", str(sec.plan)).returncode == 0
    key = ("--plan", str(sec.plan), "--key", "kek")
    good = sec.cli("decrypt", f"s3://{sec.name}/enc/a.txt", "-o", str(tmp_path / "a"), *key)
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "a").read_bytes() == b"patient A"
    with sec.target.open_read("enc/a.txt") as stream:
        body = stream.read()
    import io

    sec.target.write("enc/b.txt", io.BytesIO(body), len(body))  # A's object under B's key
    swapped = sec.cli("decrypt", f"s3://{sec.name}/enc/b.txt", "-o", str(tmp_path / "b"), *key)
    assert swapped.returncode in (4, 7), swapped.stdout + swapped.stderr
    assert "ds/b.txt" in swapped.stderr and "Traceback" not in swapped.stderr
    assert not (tmp_path / "b").exists()
