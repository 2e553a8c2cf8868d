"""The storage contract (hdh_migrate/backends/base.py), one suite for every backend.

Documented behaviours the suite pins down:
- ranges are inclusive ``(start, end)``; an ``end`` past the object is clamped to its last
  byte; a ``start`` at or past the end raises PermanentError (HTTP 416).
- ``list`` yields keys in byte order, prefix-filtered, across pages.
- a failed write (stream error, short or long stream, wrong checksum) leaves whatever was
  at the key before, and no open multipart upload.
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from contract_support import PAGE_SIZE, ContractTarget

from hdh_migrate.backends.base import Backend, ReadOnlyBackend, WriteOptions
from hdh_migrate.backends.checksums import checksum_b64
from hdh_migrate.errors import NotFoundError, PermanentError, PreconditionFailedError


class Boom(RuntimeError):
    """What a failing source stream raises."""


class FailingStream(io.RawIOBase):
    """Delivers ``good`` bytes of ``data``, then raises Boom."""

    def __init__(self, data: bytes, good: int) -> None:
        self._data, self._good, self._pos = data, good, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._good:
            raise Boom("source read failed")
        n = min(len(buffer), self._good - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def put(backend: Backend, key: str, data: bytes, **options: object) -> None:
    backend.write(key, io.BytesIO(data), len(data), WriteOptions(**options))  # type: ignore[arg-type]


def get(backend: Backend, key: str, **kwargs: object) -> bytes:
    with backend.open_read(key, **kwargs) as stream:  # type: ignore[arg-type]
        return stream.read()


def keys(backend: Backend, prefix: str = "") -> list[str]:
    return [info.key for info in backend.list(prefix)]


def assert_absent(target: ContractTarget, key: str) -> None:
    with pytest.raises(NotFoundError):
        target.backend.stat(key)
    assert key not in keys(target.backend)
    if target.open_uploads is not None:
        assert target.open_uploads() == []


# -- listing -------------------------------------------------------------------------------


def test_pagination_over_three_pages(target: ContractTarget) -> None:
    names = [f"p/{i:03d}" for i in range(3 * PAGE_SIZE + 2)]
    for name in reversed(names):
        put(target.backend, name, os.urandom(3))
    put(target.backend, "q/outside", b"x")
    listed = list(target.backend.list("p/"))
    assert [info.key for info in listed] == names
    assert all(info.size == 3 and info.etag for info in listed)


def test_list_filters_by_prefix(target: ContractTarget) -> None:
    for name in ("a", "a/1", "a/2", "ab", "a-b", "b/1", "a/b/c/d/e/f/deep"):
        put(target.backend, name if name != "a" else "a0", os.urandom(2))
    b = target.backend
    assert keys(b, "a/") == ["a/1", "a/2", "a/b/c/d/e/f/deep"]
    assert sorted(keys(b, "a")) == ["a-b", "a/1", "a/2", "a/b/c/d/e/f/deep", "a0", "ab"]
    assert keys(b, "a/b/c/d/e/") == ["a/b/c/d/e/f/deep"]
    assert keys(b, "a/b/c/d/e/f/de") == ["a/b/c/d/e/f/deep"]
    assert keys(b, "zz") == []
    assert len(keys(b)) == len(set(keys(b))) == 7


def test_listing_is_in_byte_order(target: ContractTarget) -> None:
    """'a-b' < 'a/1' < 'a0' in UTF-8 byte order, which a directory walk easily gets wrong."""
    if not target.sorted_listing:
        pytest.skip(f"{target.backend.name} does not list in byte order (documented quirk)")
    for name in ("a0", "a/1", "a-b", "a/b/c", "é", "z", "A"):
        put(target.backend, name, b"1")
    listed = keys(target.backend)
    assert listed == sorted(listed, key=lambda k: k.encode()) and len(listed) == 7


# -- reading -------------------------------------------------------------------------------


RANGES = [(0, 0), (0, 9), (100, 199), (990, 999), (999, 999), (500, 500), (995, 5000)]


@pytest.mark.parametrize("start,end", RANGES, ids=[f"{s}-{e}" for s, e in RANGES])
def test_ranged_reads(target: ContractTarget, start: int, end: int) -> None:
    data = os.urandom(1000)
    put(target.backend, "r", data)
    assert get(target.backend, "r", range=(start, end)) == data[start : end + 1]


def test_range_starting_past_the_end_is_refused(target: ContractTarget) -> None:
    put(target.backend, "r", os.urandom(10))
    with pytest.raises(PermanentError):
        get(target.backend, "r", range=(10, 20))


def test_missing_key_is_not_found(target: ContractTarget) -> None:
    with pytest.raises(NotFoundError):
        target.backend.stat("missing/key")
    with pytest.raises(NotFoundError):
        target.backend.open_read("missing/key")
    with pytest.raises(NotFoundError):
        target.backend.open_read("missing/key", range=(0, 3))


def test_if_match_with_a_stale_etag_is_refused(target: ContractTarget) -> None:
    b = target.backend
    put(b, "v", os.urandom(100))
    old = b.stat("v").etag
    new_data = os.urandom(120)
    put(b, "v", new_data)
    current = b.stat("v").etag
    assert old and current and old != current
    with pytest.raises(PreconditionFailedError):
        get(b, "v", if_match=old)
    with pytest.raises(PreconditionFailedError):
        get(b, "v", range=(0, 9), if_match=old)
    assert get(b, "v", if_match=current) == new_data
    assert get(b, "v", range=(10, 19), if_match=current) == new_data[10:20]


# -- writing -------------------------------------------------------------------------------


def test_zero_and_one_byte_objects(target: ContractTarget) -> None:
    b = target.backend
    assert b.write("empty", io.BytesIO(b""), 0).size == 0
    put(b, "one", b"\x07")
    assert (b.stat("empty").size, b.stat("one").size) == (0, 1)
    assert get(b, "empty") == b"" and get(b, "one") == b"\x07"


def test_edge_sizes_round_trip(target: ContractTarget) -> None:
    """Sizes at and ±1 around the multipart threshold and the part size."""
    b = target.backend
    for size in target.edge_sizes:
        data = os.urandom(size)
        info = b.write(f"s/{size}", io.BytesIO(data), size)
        assert info.size == size and info.key == f"s/{size}"
        assert b.stat(f"s/{size}").size == size
        assert hashlib.sha256(get(b, f"s/{size}")).digest() == hashlib.sha256(data).digest()
    if target.open_uploads is not None:
        assert target.open_uploads() == []


def test_explicit_part_size_round_trips(target: ContractTarget) -> None:
    data = os.urandom(2 * target.part_size + 17)
    opts = WriteOptions(part_size=target.part_size)
    target.backend.write("parts", io.BytesIO(data), len(data), opts)
    assert get(target.backend, "parts") == data
    first = WriteOptions(part_size=target.part_size, first_part_size=target.part_size + 100)
    target.backend.write("first", io.BytesIO(data), len(data), first)
    assert get(target.backend, "first") == data


UNUSUAL = [
    "é/日本/😀.bin",
    "with space/file name.txt",
    "percent%20literal%",
    "plus+sign",
    "hash#tag",
    "question?mark=1&x",
    "a/b/c/d/e/f/deep.bin",
    "quote'and\"double",
]


@pytest.mark.parametrize("key", UNUSUAL, ids=range(len(UNUSUAL)))
def test_unusual_keys(target: ContractTarget, key: str) -> None:
    data = os.urandom(33)
    b = target.backend
    put(b, key, data)
    assert b.stat(key).key == key and b.stat(key).size == 33
    assert get(b, key) == data
    assert keys(b) == [key]
    assert keys(b, key[:3]) == [key]
    b.delete(key)
    assert keys(b) == []


def test_metadata_round_trip(target: ContractTarget) -> None:
    content = {
        "content_type": "application/x-hdh1",
        "content_encoding": "identity",
        "content_language": "fr-FR",
        "content_disposition": 'attachment; filename="scan.dcm"',
        "cache_control": "no-store",
    }
    metadata = {"project": "hdh-42", "owner": "team-a", "sha256": "abc"}
    b = target.backend
    put(b, "m", os.urandom(10), content=content, metadata=metadata)
    info = b.stat("m")
    assert dict(info.content) == content
    assert dict(info.metadata) == metadata


def test_checksums_sent_are_checked(target: ContractTarget) -> None:
    b = target.backend
    algorithms = b.capabilities().checksum_algorithms
    if not algorithms:
        pytest.skip(f"{b.name} sends no checksums")
    data = os.urandom(1000)
    good = {name: checksum_b64(name, data) for name in algorithms}
    put(b, "good", data, checksums=good)
    assert get(b, "good") == data
    for name in algorithms:
        wrong = dict(good, **{name: checksum_b64(name, b"not the data")})
        with pytest.raises(PermanentError, match="checksum"):
            put(b, f"bad-{name}", data, checksums=wrong)
        assert_absent(target, f"bad-{name}")


def test_delete_is_idempotent(target: ContractTarget) -> None:
    b = target.backend
    put(b, "d/x", b"1")
    b.delete("d/x")
    b.delete("d/x")
    b.delete("never/existed")
    assert_absent(target, "d/x")


def test_overwrite_replaces_whole_object(target: ContractTarget) -> None:
    b = target.backend
    put(b, "o", os.urandom(5000))
    new = os.urandom(300)
    put(b, "o", new, metadata={"v": "2"})
    assert get(b, "o") == new and b.stat("o").size == 300
    assert dict(b.stat("o").metadata) == {"v": "2"}
    assert keys(b) == ["o"]


def test_if_none_match_refuses_an_existing_key(target: ContractTarget) -> None:
    b = target.backend
    if not b.capabilities().conditional_write:
        pytest.skip(f"{b.name} has no conditional write")
    first = os.urandom(10)
    put(b, "once", first, if_none_match=True)
    with pytest.raises(PreconditionFailedError):
        put(b, "once", os.urandom(10), if_none_match=True)
    assert get(b, "once") == first


# -- failed writes leave nothing -----------------------------------------------------------


def _failure_sizes(target: ContractTarget) -> list[int]:
    return [1000, target.threshold + target.part_size + 10]


def test_stream_error_leaves_nothing(target: ContractTarget) -> None:
    for size in _failure_sizes(target):
        data = os.urandom(size)
        with pytest.raises(Boom):
            target.backend.write("f", FailingStream(data, size - 5), size)  # type: ignore[arg-type]
        assert_absent(target, "f")


def test_short_and_long_streams_are_refused(target: ContractTarget) -> None:
    b = target.backend
    for size in _failure_sizes(target):
        data = os.urandom(size)
        with pytest.raises(PermanentError):
            b.write("short", io.BytesIO(data[:-1]), size)
        assert_absent(target, "short")
        with pytest.raises(PermanentError):
            b.write("long", io.BytesIO(data + b"!"), size)
        assert_absent(target, "long")


def test_failed_overwrite_keeps_the_previous_object(target: ContractTarget) -> None:
    b = target.backend
    old = os.urandom(200)
    put(b, "keep", old, metadata={"v": "1"})
    for size in _failure_sizes(target):
        with pytest.raises(Boom):
            b.write("keep", FailingStream(os.urandom(size), size // 2), size)  # type: ignore[arg-type]
        with pytest.raises(PermanentError):
            b.write("keep", io.BytesIO(os.urandom(size - 1)), size)
    assert get(b, "keep") == old
    assert dict(b.stat("keep").metadata) == {"v": "1"}
    if target.open_uploads is not None:
        assert target.open_uploads() == []


def test_read_only_wrapper_refuses_writes(target: ContractTarget) -> None:
    put(target.backend, "ro", b"abc")
    ro = ReadOnlyBackend(target.backend)
    with pytest.raises(PermanentError, match="read-only"):
        put(ro, "ro", b"xyz")  # type: ignore[arg-type]
    with pytest.raises(PermanentError, match="read-only"):
        ro.delete("ro")
    assert get(ro, "ro") == b"abc"  # type: ignore[arg-type]
    assert keys(ro) == ["ro"]  # type: ignore[arg-type]
