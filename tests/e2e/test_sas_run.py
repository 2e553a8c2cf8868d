"""A source read with a SAS (Azurite checks its signature and expiry): an expired SAS and a
SAS that would expire before the wave ends are refused before anything moves (exit 7); a
new SAS in the same reference resumes the run."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from stack_world import make_world

pytestmark = pytest.mark.stack

SOURCE = "    connection_string: ${env:AZURE_STORAGE_CONNECTION_STRING}\n"


def sas(stack: Any, container: str, valid_for: dt.timedelta) -> str:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return generate_container_sas(
        stack.azurite_account_name,
        container,
        account_key=stack.azurite_account_key,
        permission=ContainerSasPermissions(read=True, list=True),
        start=start,
        expiry=start + dt.timedelta(minutes=5) + valid_for,
    )


def test_sas_windows(
    stack: Any, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(stack, tmp_path, unique_name)
    try:
        world.put("data/big.bin", os.urandom(4 << 20))
        text = world.plan.read_text()
        assert SOURCE in text
        source = (
            f"    account_url: {stack.azurite_account_url}\n    credential: ${{env:HDH_T_SAS}}\n"
        )
        # 4 MiB at an expected 1 KiB/s: about 68 minutes of copy.
        text = text.replace(SOURCE, source) + "estimates: {bandwidth: 1KiB/s}\n"
        world.plan.write_text(text)

        monkeypatch.setenv("HDH_T_SAS", sas(stack, unique_name, dt.timedelta(minutes=-1)))
        expired = world.cli("run", str(world.plan))
        assert expired.returncode == 7, expired.stderr
        assert "the SAS expired at" in expired.stderr and "sig=" not in expired.stderr

        monkeypatch.setenv("HDH_T_SAS", sas(stack, unique_name, dt.timedelta(minutes=30)))
        short = world.cli("run", str(world.plan))
        assert short.returncode == 7, short.stderr
        assert (
            "the source's SAS expires in" in short.stderr and "before the copy ends" in short.stderr
        )
        assert list(world.target.list("enc/")) == []

        monkeypatch.setenv("HDH_T_SAS", sas(stack, unique_name, dt.timedelta(hours=3)))
        resumed = world.cli("run", str(world.plan))
        assert resumed.returncode == 0, resumed.stderr
        assert [info.key for info in world.target.list("enc/")] == ["enc/big.bin"]
    finally:
        world.source.delete_container()
        world.target.delete_bucket(force=True)


def test_a_sas_that_expires_mid_run_stops_it_cleanly_and_a_new_one_resumes(
    stack: Any, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No estimate in the plan, so nothing is refused up front: the capped run meets the
    SAS's expiry mid-flight, stops with exit 7 naming it (not exit 5 with objects marked
    failed), and the same command with a new SAS copies only what is left."""
    world = make_world(stack, tmp_path, unique_name, concurrency=1)
    try:
        for n in range(24):
            world.put(f"data/{n:02d}.bin", os.urandom(4 << 10))
        text = world.plan.read_text()
        source = (
            f"    account_url: {stack.azurite_account_url}\n    credential: ${{env:HDH_T_SAS}}\n"
        )
        world.plan.write_text(text.replace(SOURCE, source))
        # 96 KiB at 4 KiB/s: about 24 s of copy; the SAS lives 12 s from now (the tool's
        # start-up under load stays well inside it).
        monkeypatch.setenv("HDH_T_SAS", sas(stack, unique_name, dt.timedelta(seconds=12)))
        stopped = world.cli("run", str(world.plan), "--bandwidth", "4KiB/s")
        assert stopped.returncode == 7, stopped.stderr
        errors = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, stopped.stderr
        assert "the SAS expired at" in errors[0] and "during the run" in errors[0]
        assert "sig=" not in stopped.stderr
        before = world.target_etags()
        assert 0 < len(before) < 24, stopped.stderr  # it stopped mid-flight

        monkeypatch.setenv("HDH_T_SAS", sas(stack, unique_name, dt.timedelta(hours=1)))
        resumed = world.cli("run", str(world.plan))
        assert resumed.returncode == 0, resumed.stderr
        after = world.target_etags()
        assert sorted(after) == [f"enc/{n:02d}.bin" for n in range(24)]
        assert {key: after[key] for key in before} == before  # what was done stays done
    finally:
        world.source.delete_container()
        world.target.delete_bucket(force=True)
