"""A whole run whose target is authenticated by an AWS profile (no key in the plan)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.stack

CREDENTIALS = """\
    credentials:
      access_key: ${env:HDH_S3_ACCESS_KEY}
      secret_key: ${env:HDH_S3_SECRET_KEY}
"""


def test_a_run_with_a_profile_target(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack: Any
) -> None:
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        f"[hdh-rehearsal]\naws_access_key_id = {stack.s3_access_key}\n"
        f"aws_secret_access_key = {stack.s3_secret_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    text = world.plan.read_text()
    assert CREDENTIALS in text
    world.plan.write_text(
        text.replace(CREDENTIALS, "    auth: {kind: profile, profile: hdh-rehearsal}\n")
    )
    world.put("data/a.bin", os.urandom(3000))
    run = world.cli("run", str(world.plan))
    assert run.returncode == 0, run.stderr
    assert [info.key for info in world.target.list("enc/")] == ["enc/a.bin"]
    credentials.write_text("[hdh-rehearsal]\naws_access_key_id = x\naws_secret_access_key = y\n")
    world.put("data/b.bin", os.urandom(10))
    refused = world.cli("run", str(world.plan))
    assert refused.returncode in (5, 7), refused.stderr  # the profile now holds a wrong key
    assert "enc/b.bin" not in [info.key for info in world.target.list("enc/")]
