"""A whole run whose Azure source is read with a managed identity (Entra ID bearer tokens
from a loopback IDENTITY_ENDPOINT) over HTTPS: no key in the plan nor in the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import token_endpoint

pytestmark = pytest.mark.stack

CAP = ("--bandwidth", "4KiB/s")
SOURCE = "    connection_string: ${env:HDH_AZURITE_HTTPS_CONNECTION_STRING}\n"


def test_a_run_reads_the_source_with_a_managed_identity(
    stack: Any, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stack_world import make_world

    world = make_world(stack, tmp_path, unique_name, tls=True)
    try:
        world.put("data/a.bin", os.urandom(5000))
        world.put("data/b.bin", os.urandom(7))
        text = world.plan.read_text()
        assert SOURCE in text
        entra = (
            f"    account_url: {stack.azurite_https_account_url}\n"
            "    auth: {kind: managed_identity, client_id: run-identity}\n"
        )
        world.plan.write_text(text.replace(SOURCE, entra))
        with token_endpoint.serving() as identity:
            monkeypatch.setenv("IDENTITY_ENDPOINT", identity.url)
            monkeypatch.setenv("IDENTITY_HEADER", identity.header)
            monkeypatch.delenv("HDH_AZURITE_HTTPS_CONNECTION_STRING")
            monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
            run = world.cli("run", str(world.plan))
            assert run.returncode == 0, run.stderr
            assert identity.issued >= 1
            identity.revoked = True
            world.put("data/c.bin", os.urandom(9))
            refused = world.cli("run", str(world.plan))
        assert refused.returncode == 7, refused.stderr
        assert "managed identity (client_id run-identity)" in refused.stderr
        keys = sorted(info.key for info in world.target.list("enc/"))
        assert keys == ["enc/a.bin", "enc/b.bin"]
    finally:
        world.source.delete_container()
        world.target.delete_bucket(force=True)


def test_tokens_expire_mid_run_and_are_renewed_then_a_revocation_stops_it(
    stack: Any, tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bandwidth-capped run outlives its tokens (2 s each; Azurite checks every token's
    expiry) and goes on copying with renewed ones; its identity revoked mid-flight, it stops
    with exit 7 naming the identity; restored, the same command resumes and completes."""
    from stack_world import make_world

    world = make_world(stack, tmp_path, unique_name, tls=True, concurrency=1)
    try:
        for n in range(12):
            world.put(f"data/{n:02d}.bin", os.urandom(4 << 10))
        entra = (
            f"    account_url: {stack.azurite_https_account_url}\n"
            "    auth: {kind: managed_identity, client_id: long-run}\n"
        )
        world.plan.write_text(world.plan.read_text().replace(SOURCE, entra))
        with token_endpoint.serving() as identity:
            identity.lifetime = 2
            monkeypatch.setenv("IDENTITY_ENDPOINT", identity.url)
            monkeypatch.setenv("IDENTITY_HEADER", identity.header)
            monkeypatch.delenv("HDH_AZURITE_HTTPS_CONNECTION_STRING")
            monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
            # 48 KiB at 4 KiB/s: about 12 s of reads, six token lifetimes.
            capped = subprocess.Popen(
                [sys.executable, "-m", "hdh_migrate", "run", str(world.plan), *CAP],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                deadline = time.monotonic() + 180

                def until(condition: Any) -> None:
                    while not condition():
                        assert capped.poll() is None, capped.communicate()[1]
                        assert time.monotonic() < deadline, "the run made no progress"
                        time.sleep(0.1)

                # a token issued once the first had expired (exp - lifetime = issue time)
                until(
                    lambda: identity.expiries and identity.expiries[-1] - 2 >= identity.expiries[0]
                )
                renewed = len(world.target_etags())
                until(lambda: len(world.target_etags()) >= renewed + 2)  # copied with it
                identity.revoked = True  # mid-flight: the next token request is refused
                _, stderr = capped.communicate(timeout=180)
            finally:
                if capped.poll() is None:
                    capped.kill()
                    capped.wait()
            assert capped.returncode == 7, stderr
            errors = [line for line in stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, stderr
            assert "managed identity (client_id long-run)" in errors[0]
            assert "eyJ" not in stderr  # no token in the message
            stopped = len(world.target_etags())
            assert renewed + 2 <= stopped < 12, stderr  # it stopped mid-flight

            identity.revoked = False
            resumed = world.cli("run", str(world.plan))
            assert resumed.returncode == 0, resumed.stderr
        assert len(world.target_etags()) == 12
    finally:
        world.source.delete_container()
        world.target.delete_bucket(force=True)
