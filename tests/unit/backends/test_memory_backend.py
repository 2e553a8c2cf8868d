"""Memory backend specifics: shared named stores, failure injection, thread safety."""

from __future__ import annotations

import io
import threading

import pytest

from hdh_migrate.backends.memory import MemoryBackend, drop_store
from hdh_migrate.backends.registry import open_backend
from hdh_migrate.errors import RetryableError, ThrottledError


def test_backends_opened_on_one_store_share_objects() -> None:
    a = open_backend("memory", {"store": "shared-test"})
    b = open_backend("memory", {"store": "shared-test"})
    a.write("k", io.BytesIO(b"abc"), 3)
    assert b.open_read("k").read() == b"abc"
    drop_store("shared-test")
    assert list(open_backend("memory", {"store": "shared-test"}).list()) == []


def test_fail_on_raises_the_given_number_of_times() -> None:
    b = MemoryBackend()
    b.fail_on("write", ThrottledError("slow down"), times=2, key="k")
    b.write("other", io.BytesIO(b"x"), 1)
    for _ in range(2):
        with pytest.raises(ThrottledError):
            b.write("k", io.BytesIO(b"x"), 1)
    b.write("k", io.BytesIO(b"x"), 1)
    assert b.stat("k").size == 1


def test_read_fault_raises_mid_stream() -> None:
    b = MemoryBackend()
    b.write("k", io.BytesIO(b"0123456789"), 10)
    b.fail_on("read", RetryableError("connection reset"), after_bytes=4)
    stream = b.open_read("k")
    assert stream.read(4) == b"0123"
    with pytest.raises(RetryableError):
        stream.read()
    assert b.open_read("k").read() == b"0123456789"


def test_concurrent_writers_and_listers_stay_consistent() -> None:
    b = MemoryBackend(page_size=5)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(200):
                b.write(f"w{n}/{i:03d}", io.BytesIO(b"ab"), 2)
        except BaseException as exc:  # collected and re-checked below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        listed = [i.key for i in b.list()]
        assert listed == sorted(listed) and len(listed) == len(set(listed))
    for t in threads:
        t.join()
    assert errors == [] and sum(1 for _ in b.list()) == 800


def test_etag_changes_on_identical_overwrite() -> None:
    b = MemoryBackend()
    first = b.write("k", io.BytesIO(b"same"), 4).etag
    assert b.write("k", io.BytesIO(b"same"), 4).etag != first
