"""The security suite's world: a local source directory (the attacker's files), the real
SeaweedFS target, a file KEK and a state directory of its own, plus a recorder of every
file and stream the tool writes, grepped for secrets when the session ends."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from security_world import SecretLedger, SecWorld, make_sec_world


@pytest.fixture(scope="session")
def ledger() -> Iterator[SecretLedger]:
    """Every stream and directory the suite's tool runs wrote; checked for secrets at the
    end (a failure here is the acceptance 'no secret in any output' failing)."""
    book = SecretLedger()
    yield book
    leaks = book.leaks()
    assert not leaks, f"secrets found in tool output: {leaks[:5]}"


@pytest.fixture
def sec(stack: Any, tmp_path: Path, unique_name: str, ledger: SecretLedger) -> Iterator[SecWorld]:
    world = make_sec_world(stack, tmp_path, unique_name, ledger)
    yield world
    world.target.delete_bucket(force=True)


@pytest.fixture
def cli_run(ledger: SecretLedger) -> Any:
    """Run the console script in a subprocess with ``env``; its streams go to the ledger."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "hdh_migrate", *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=env if env is not None else os.environ.copy(),
            check=False,
        )
        ledger.streams.append(done.stdout + done.stderr)
        return done

    return run


@pytest.fixture
def azure(stack: Any, tmp_path: Path, unique_name: str, ledger: SecretLedger) -> Iterator[Any]:
    from security_world import make_azure_world

    world = make_azure_world(stack, tmp_path, unique_name, ledger)
    yield world
    world.source.delete_container()
    world.target.delete_bucket(force=True)
