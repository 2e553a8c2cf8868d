"""A whole run whose Azure source is read with a managed identity (Entra ID bearer tokens
from a loopback IDENTITY_ENDPOINT) over HTTPS: no key in the plan nor in the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests import token_endpoint

pytestmark = pytest.mark.stack

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
