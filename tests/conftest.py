"""Session-wide fixtures: the local server stack and fresh resource names.

Fixtures specific to one area live in that subfolder's own conftest.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import devstack

# Property tests check behaviour, never speed (speed is measured in bench/): no per-example
# deadline, no "too slow" health check, so a busy machine or a parallel worker cannot fail them.
settings.register_profile("hdh", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hdh")

# `make test` runs two xdist workers; this plugin keeps the stack's tests on one, in order.
pytest_plugins = ["tests.support.serial_stack"]


@pytest.fixture(scope="session")
def stack() -> Iterator[devstack.Stack]:
    """The running local stack (started if not healthy); its env vars set for the session."""
    running = devstack.ensure_up()
    saved = {name: os.environ.get(name) for name in running.env()}
    os.environ.update(running.env())
    yield running
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def unique_name() -> str:
    """A fresh name valid as an S3 bucket and an Azure container (lowercase, 3-40 chars)."""
    return f"t{uuid.uuid4().hex[:20]}"


# What `python -m devstack env` exports for the public fields of plans/rehearsal.yaml, here
# with ports nothing listens on (a portable plan follows it).
DEVSTACK_ENV = {
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=S3CRET-KEY-NEVER;BlobEndpoint=http://127.0.0.1:17/devstoreaccount1;",
    "HDH_S3_ENDPOINT": "http://127.0.0.1:19",
    "HDH_SFTP_HOST": "127.0.0.1",
    "HDH_SFTP_PORT": "13",
}


@pytest.fixture
def devstack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a portable plan's ``${env:…}`` endpoints and ports resolve from."""
    for name, value in DEVSTACK_ENV.items():
        monkeypatch.setenv(name, value)
