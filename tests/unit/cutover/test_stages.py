"""Freeze and delta stages without servers: lease ids, lease outcomes, probes, the diff."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hdh_migrate.backends.base import ObjectInfo, ReadOnlyBackend
from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.errors import NotFoundError, PreconditionFailedError, RetryableError, UsageError
from hdh_migrate.stages import delta, freeze


def test_lease_ids_are_deterministic_per_epoch() -> None:
    one = freeze.lease_id_for("plan", "ds", "a/b", 0)
    assert one == freeze.lease_id_for("plan", "ds", "a/b", 0)
    assert str(uuid.UUID(one)) == one
    others = {
        freeze.lease_id_for(*args)
        for args in [
            ("plan", "ds", "a/b", 1),
            ("plan", "ds2", "a/b", 0),
            ("plan", "ds", "a/c", 0),
            ("p2", "ds", "a/b", 0),
        ]
    }
    assert one not in others and len(others) == 4


class FakeLeasing:
    def __init__(self, errors: list[Exception | None]) -> None:
        self.errors, self.calls = errors, 0

    def acquire_lease(self, key: str, duration: int = -1, lease_id: str | None = None) -> str:
        self.calls += 1
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        return lease_id or ""

    def release_lease(self, key: str, lease_id: str) -> None:
        self.acquire_lease(key, -1, lease_id)


@pytest.mark.parametrize(
    ("errors", "outcome", "calls"),
    [
        ([None], "leased", 1),
        ([NotFoundError("gone")], "gone", 1),
        ([PreconditionFailedError("412 LeaseAlreadyPresent")], "foreign", 1),
        ([RetryableError("503"), None], "leased", 2),
        ([RetryableError("503")] * 3, "error", 3),
    ],
)
def test_acquire_outcomes(errors: list[Exception | None], outcome: str, calls: int) -> None:
    backend = FakeLeasing(list(errors))
    result = freeze.acquire(backend, "k", "id")
    assert (result.outcome, backend.calls) == (outcome, calls)


def test_leasing_refuses_a_backend_without_leases() -> None:
    with pytest.raises(UsageError, match="needs an Azure Blob source"):
        freeze.leasing(MemoryBackend(f"t-{uuid.uuid4().hex}"))


@pytest.fixture
def memory() -> MemoryBackend:
    store = f"t-{uuid.uuid4().hex}"
    yield MemoryBackend(store)
    drop_store(store)


def test_canary_probe_on_a_writable_source_fails_and_cleans_up(memory: MemoryBackend) -> None:
    result = freeze.probe_canary(memory, "data/")
    assert not result.held and not result.refused
    assert result.key.startswith("data/_hdh-freeze-probe/")
    assert list(memory.list("")) == []
    assert freeze.probe_writable(memory, "data/").held


def test_canary_probe_on_a_read_only_source_holds(memory: MemoryBackend) -> None:
    frozen = ReadOnlyBackend(memory)
    assert freeze.probe_canary(frozen, "data/").held
    assert not freeze.probe_writable(frozen, "data/").held


def test_leased_probe_rewrites_the_same_bytes_when_not_refused(memory: MemoryBackend) -> None:
    memory.write("data/a", io.BytesIO(b"same bytes"), 10)
    result = freeze.probe_leased(memory, "data/a")
    assert not result.held
    with memory.open_read("data/a") as stream:
        assert stream.read() == b"same bytes"
    assert freeze.probe_leased(ReadOnlyBackend(memory), "data/a").held


T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def _info(key: str, etag: str = "e", size: int = 1, when: datetime = T0) -> ObjectInfo:
    return ObjectInfo(key=key, size=size, etag=etag, last_modified=when)


def test_listing_diff_by_etag_size_and_last_modified(tmp_path: Path) -> None:
    known = {
        k: delta.Known(k, 1, "e", T0.isoformat()) for k in ("same", "etag", "size", "time", "gone")
    }
    listing = [
        _info("same"),
        _info("etag", etag="e2"),
        _info("size", size=2),
        _info("time", when=T1),
        _info("new"),
    ]
    counts = delta.DeltaCounts()
    with delta.SeenKeys(tmp_path) as seen:
        changes = list(delta.listing_changes(listing, known.get, seen, counts))
        gone = list(delta.deleted(known.values(), seen))
    assert [(c.kind, c.key, c.why) for c in changes] == [
        ("changed", "etag", "etag"),
        ("changed", "size", "size"),
        ("changed", "time", "last_modified"),
        ("created", "new", "new"),
    ]
    assert [c.key for c in gone] == ["gone"]
    assert counts.to_dict() == {
        "listed": 5,
        "created": 1,
        "changed": 3,
        "deleted": 0,
        "unchanged": 1,
        "bytes": 5,
        "total": 4,
    }
    assert list(tmp_path.iterdir()) == []  # the temporary set is removed


def test_seen_keys_holds_many_keys_on_disk(tmp_path: Path) -> None:
    with delta.SeenKeys(tmp_path) as seen:
        for i in range(5000):
            seen.add(f"k{i}")
        assert "k0" in seen and "k4999" in seen and "k5000" not in seen
