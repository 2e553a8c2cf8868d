"""Local backend specifics: key safety, sidecar metadata, atomic publish, bounded listing."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path

import pytest

from hdh_migrate.backends.base import WriteOptions
from hdh_migrate.backends.local import LocalBackend
from hdh_migrate.errors import NotFoundError, PermanentError


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "root")


def put(b: LocalBackend, key: str, data: bytes, **opts: object) -> None:
    b.write(key, io.BytesIO(data), len(data), WriteOptions(**opts))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../b", "/abs", "a//b", "a/./b", "dir/", "", "x\0y", ".hdh-meta/a"]
)
def test_unsafe_keys_are_refused(backend: LocalBackend, key: str, tmp_path: Path) -> None:
    with pytest.raises(PermanentError):
        put(backend, key, b"x")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("key", ["../escape", ".hdh-envelopes/enc/a.bin.hdhk", "a//b"])
def test_a_key_no_directory_can_hold_names_no_object(backend: LocalBackend, key: str) -> None:
    """Reading it is NotFoundError, as on a bucket (verify looks for rotation sidecars)."""
    with pytest.raises(NotFoundError):
        backend.stat(key)
    with pytest.raises(NotFoundError):
        backend.open_read(key)


def test_files_are_plain_bytes_and_private(backend: LocalBackend) -> None:
    put(backend, "a/b.bin", b"hello")
    path = backend.root / "a" / "b.bin"
    assert path.read_bytes() == b"hello"
    assert path.stat().st_mode & 0o777 == 0o600


def test_no_temp_files_remain_after_a_failed_write(backend: LocalBackend) -> None:
    with pytest.raises(PermanentError):
        backend.write("d/x", io.BytesIO(b"abc"), 10)
    assert [p.name for p in backend.root.rglob("*") if p.is_file()] == []


def test_sidecar_for_other_bytes_is_ignored(backend: LocalBackend) -> None:
    put(backend, "k", b"one", metadata={"owner": "a"})
    assert dict(backend.stat("k").metadata) == {"owner": "a"}
    (backend.root / "k").write_bytes(b"changed behind our back")  # e.g. an external tool
    os.utime(backend.root / "k", ns=(1, 1))
    assert dict(backend.stat("k").metadata) == {}


def test_sidecar_is_removed_when_metadata_is_dropped(backend: LocalBackend) -> None:
    put(backend, "k", b"one", metadata={"owner": "a"})
    sidecar = backend.root / ".hdh-meta" / "k.json"
    assert json.loads(sidecar.read_text())["metadata"] == {"owner": "a"}
    put(backend, "k", b"two")
    assert not sidecar.exists()


def test_delete_prunes_empty_directories(backend: LocalBackend) -> None:
    put(backend, "a/b/c/d", b"1", metadata={"m": "1"})
    backend.delete("a/b/c/d")
    assert list(backend.root.iterdir()) == []
    put(backend, "a", b"now a file where a directory was")
    assert backend.stat("a").size == 32


def test_parent_that_is_a_file_is_a_permanent_error(backend: LocalBackend) -> None:
    put(backend, "a", b"file")
    with pytest.raises(PermanentError, match="cannot write"):
        put(backend, "a/b", b"under a file")


def test_listing_skips_reserved_and_empty_directories(backend: LocalBackend) -> None:
    put(backend, "x/y", b"1", metadata={"m": "1"})
    (backend.root / "empty" / "dir").mkdir(parents=True)
    (backend.root / "x" / ".hdh-tmp-stale").write_bytes(b"junk")
    assert [i.key for i in backend.list()] == ["x/y"]


def test_listing_memory_does_not_grow_with_object_count(tmp_path: Path) -> None:
    """20,000 files in 100 directories: peak traced memory while listing stays small."""
    root = tmp_path / "many"
    for d in range(100):
        folder = root / f"d{d:03d}"
        folder.mkdir(parents=True)
        for f in range(200):
            (folder / f"f{f:04d}").write_bytes(b"")
    backend = LocalBackend(root)
    tracemalloc.start()
    try:
        count = sum(1 for _ in backend.list())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < 256 * 1024, f"listing peaked at {peak} bytes"
