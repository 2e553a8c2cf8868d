"""Row 13: a wrong S3 secret is exit 7 (authentication) on the very first run, not 5, and
the object is not marked failed: the run with the right secret copies it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack


def test_a_wrong_secret_is_exit_7_the_first_time(sec, ledger):
    (sec.src / "a.txt").write_bytes(b"a")
    sec.plan.write_text(sec.plan.read_text().replace("HDH_S3_SECRET_KEY", "HDH_SEC_WRONG"))
    env = {**os.environ, "HDH_SEC_WRONG": "wrong-secret-" + "x" * 20}
    first = subprocess.run(
        [sys.executable, "-m", "hdh_migrate", "run", str(sec.plan)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    ledger.streams.append(first.stdout + first.stderr)
    assert first.returncode == 7, first.stderr
    assert "SignatureDoesNotMatch" in first.stderr or "InvalidAccessKeyId" in first.stderr
    env["HDH_SEC_WRONG"] = os.environ["HDH_S3_SECRET_KEY"]
    fixed = subprocess.run(
        [sys.executable, "-m", "hdh_migrate", "run", str(sec.plan)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert [i.key for i in sec.target.list("enc/")] == ["enc/a.txt"]
