"""Backends the contract suite runs against: one small factory per backend.

Adding a backend = one generator function decorated with ``@factory("name", stack=True)``
that yields a ``ContractTarget`` wrapping a *fresh, empty* backend (its own bucket,
container or directory) configured with ``PAGE_SIZE`` and, when it uploads in parts,
``PART_SIZE``/``THRESHOLD``; then it cleans up. ``test_contract.py`` parametrizes every
case over ``FACTORIES``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from contract_support import PAGE_SIZE, PART_SIZE, THRESHOLD, ContractTarget

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.registry import open_backend


@dataclass
class FactoryContext:
    request: pytest.FixtureRequest
    tmp_path: Path

    def stack(self) -> Any:
        """The running local server stack (``stack`` fixture from tests/conftest.py)."""
        try:
            return self.request.getfixturevalue("stack")
        except pytest.FixtureLookupError:
            devstack = pytest.importorskip("devstack")
            return devstack.ensure_up()


Factory = Callable[[FactoryContext], Iterator[ContractTarget]]
FACTORIES: dict[str, tuple[Factory, bool]] = {}


def factory(name: str, *, stack: bool = False) -> Callable[[Factory], Factory]:
    """Register a backend factory; ``stack=True`` marks its cases ``@pytest.mark.stack``."""

    def register(fn: Factory) -> Factory:
        FACTORIES[name] = (fn, stack)
        return fn

    return register


def unique(label: str) -> str:
    return f"hdh-contract-{label}-{uuid.uuid4().hex[:12]}"


# -- the factories ---------------------------------------------------------------------------


@factory("memory")
def memory_target(ctx: FactoryContext) -> Iterator[ContractTarget]:
    store = unique("mem")
    yield ContractTarget(MemoryBackend(store, page_size=PAGE_SIZE), 256 * 1024, 256 * 1024)
    drop_store(store)


@factory("local")
def local_target(ctx: FactoryContext) -> Iterator[ContractTarget]:
    backend = open_backend("local", {"root": str(ctx.tmp_path / "root"), "page_size": PAGE_SIZE})
    yield ContractTarget(backend, 256 * 1024, 256 * 1024)


@factory("s3-seaweedfs", stack=True)
def seaweedfs_target(ctx: FactoryContext) -> Iterator[ContractTarget]:
    stack = ctx.stack()
    config = {
        "endpoint_url": stack.s3_endpoint,
        "region": "us-east-1",
        "bucket": unique("s3"),
        "access_key": stack.s3_access_key,
        "secret_key": stack.s3_secret_key,
        "page_size": PAGE_SIZE,
        "multipart_threshold": THRESHOLD,
        "part_size": PART_SIZE,
        "checksum_algorithms": ["sha256", "crc32c", "md5"],
    }
    backend: Any = open_backend("s3", config)
    backend.ensure_bucket()
    yield ContractTarget(
        backend,
        open_uploads=lambda: list(backend.list_multipart_uploads("")),
        sorted_listing=False,  # SeaweedFS walks its filer tree: 'a/…' comes before 'a-b'
    )
    with contextlib.suppress(Exception):
        backend.delete_bucket(force=True)
    backend.close()


@factory("azure-azurite", stack=True)
def azurite_target(ctx: FactoryContext) -> Iterator[ContractTarget]:
    stack, mib = ctx.stack(), 1024 * 1024
    config = {
        "container": unique("az"),
        "connection_string": stack.azurite_connection_string,
        "page_size": PAGE_SIZE,
        "chunk_size": mib,  # several ranged GETs per object above 1 MiB
        "block_size": mib,
        "single_put_size": mib,  # Put Block List above 1 MiB
    }
    backend: Any = open_backend("azure_blob", config)
    backend.ensure_container()
    yield ContractTarget(backend, part_size=mib, threshold=mib)
    backend.delete_container()
    backend.close()


@factory("sftp-sshd", stack=True)
def sshd_target(ctx: FactoryContext) -> Iterator[ContractTarget]:
    stack = ctx.stack()
    config = {
        "host": stack.sftp_host,
        "port": stack.sftp_port,
        "user": stack.sftp_user,
        "key": f"${{file:{stack.sftp_key_path}}}",
        "known_hosts": str(stack.sftp_known_hosts),
        "root": f"{stack.sftp_root}/{unique('sftp')}",
        "page_size": PAGE_SIZE,
        "read_window": 256 * 1024,  # several prefetch windows per larger object
    }
    backend: Any = open_backend("sftp", config)
    backend.ensure_root()
    yield ContractTarget(backend, 256 * 1024, 256 * 1024)
    backend.remove_root()
    backend.close()


# -- the fixture every contract case takes ----------------------------------------------------


def _params() -> list[Any]:
    return [
        pytest.param(name, marks=[pytest.mark.stack] if needs_stack else [], id=name)
        for name, (_, needs_stack) in FACTORIES.items()
    ]


@pytest.fixture(params=_params())
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractTarget]:
    make, _ = FACTORIES[request.param]
    yield from make(FactoryContext(request, tmp_path))
