"""An in-process backend: the fake every unit test can use, held to the same contract suite.

Objects live in a named *store* shared by every ``MemoryBackend`` opened on that name in
this process (tasks rebuild their backends from plain config, so two instances opened with
``{"store": "src"}`` see the same objects). Thread-safe. ETags are the quoted MD5 hex of
the content plus a generation counter, so an overwrite always changes the ETag.

Failure injection for tests: ``backend.fail_on(op, error, times=1, key=None)`` raises
``error`` on the next ``times`` calls of ``op`` (``list``, ``stat``, ``open_read``,
``write``, ``delete``), and ``op="read"`` raises it from the returned stream after
``after_bytes`` bytes were delivered.
"""

from __future__ import annotations

import bisect
import builtins
import hashlib
import io
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Self

from hdh_migrate.backends.base import Capabilities, ObjectInfo, WriteOptions
from hdh_migrate.backends.checksums import ALGORITHMS, pump
from hdh_migrate.backends.specs import MemorySpec
from hdh_migrate.errors import NotFoundError, PermanentError, PreconditionFailedError

DEFAULT_PAGE_SIZE = 1000


@dataclass
class _Store:
    """The objects of one named store, sorted keys kept alongside for paged listing."""

    objects: dict[str, tuple[bytes, ObjectInfo]]
    keys: list[str]
    lock: threading.Lock
    generation: int = 0


_STORES: dict[str, _Store] = {}
_STORES_LOCK = threading.Lock()


def _store(name: str) -> _Store:
    with _STORES_LOCK:
        return _STORES.setdefault(name, _Store({}, [], threading.Lock()))


def drop_store(name: str) -> None:
    """Forget a named store (tests clean up with this)."""
    with _STORES_LOCK:
        _STORES.pop(name, None)


@dataclass
class _Fault:
    op: str
    error: BaseException
    times: int
    key: str | None
    after_bytes: int


class MemoryBackend:
    """Objects in a process-wide named store. Config: ``store`` (name), ``page_size``."""

    def __init__(self, store: str | None = None, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.store_name = store or f"anon-{uuid.uuid4().hex}"
        self.name = f"memory://{self.store_name}"
        self.page_size = page_size
        self._store = _store(self.store_name)
        self._faults: list[_Fault] = []
        self._faults_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """``{"store": "name", "page_size": 1000}``; both optional."""
        return cls(config.get("store"), page_size=int(config.get("page_size", DEFAULT_PAGE_SIZE)))

    @classmethod
    def from_spec(cls, spec: MemorySpec) -> Self:
        return cls(spec.store, page_size=spec.page_size)

    # -- failure injection ------------------------------------------------------------------

    def fail_on(
        self,
        op: str,
        error: BaseException,
        *,
        times: int = 1,
        key: str | None = None,
        after_bytes: int = 0,
    ) -> None:
        """Raise ``error`` on the next ``times`` calls of ``op`` (optionally only for ``key``)."""
        with self._faults_lock:
            self._faults.append(_Fault(op, error, times, key, after_bytes))

    def _take_fault(self, op: str, key: str | None) -> _Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.op == op and fault.times > 0 and fault.key in (None, key):
                    fault.times -= 1
                    return fault
        return None

    def _inject(self, op: str, key: str | None = None) -> None:
        fault = self._take_fault(op, key)
        if fault is not None:
            raise fault.error

    # -- the contract -----------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Page by page (``page_size`` keys per lock hold), in key order."""
        self._inject("list", prefix)
        after: str | None = None
        while True:
            page = self._page(prefix, after)
            yield from page
            if len(page) < self.page_size:
                return
            after = page[-1].key

    def _page(self, prefix: str, after: str | None) -> builtins.list[ObjectInfo]:
        store = self._store
        with store.lock:
            start = bisect.bisect_right(store.keys, after) if after is not None else 0
            start = max(start, bisect.bisect_left(store.keys, prefix))
            keys = store.keys[start : start + self.page_size]
            return [store.objects[k][1] for k in keys if k.startswith(prefix)]

    def stat(self, key: str) -> ObjectInfo:
        self._inject("stat", key)
        return self._get(key)[1]

    def _get(self, key: str) -> tuple[bytes, ObjectInfo]:
        with self._store.lock:
            found = self._store.objects.get(key)
        if found is None:
            raise NotFoundError(f"{self.name}: no object {key!r}", key=key)
        return found

    def open_read(
        self, key: str, range: tuple[int, int] | None = None, if_match: str | None = None
    ) -> BinaryIO:
        """The bytes (or inclusive ``range``; see ``slice_range``) as an in-memory stream."""
        self._inject("open_read", key)
        data, info = self._get(key)
        if if_match is not None and if_match != info.etag:
            raise PreconditionFailedError(f"{self.name}: {key!r} changed (ETag)", key=key)
        body = data[slice_range(range, len(data), key)] if range is not None else data
        fault = self._take_fault("read", key)
        if fault is not None:
            return io.BufferedReader(_FaultyReader(body, fault.after_bytes, fault.error))
        return io.BytesIO(body)

    def write(
        self, key: str, stream: BinaryIO, size: int, options: WriteOptions | None = None
    ) -> ObjectInfo:
        """Buffer the whole stream, validate size and checksums, then publish atomically."""
        _check_key(key)
        opts = options or WriteOptions()
        self._inject("write", key)
        buffer = bytearray()
        checksums = pump(stream, size, buffer.extend, key=key, expected=opts.checksums)
        return self._publish(key, bytes(buffer), opts, checksums)

    def _publish(
        self, key: str, data: bytes, opts: WriteOptions, checksums: Mapping[str, str]
    ) -> ObjectInfo:
        store = self._store
        with store.lock:
            if opts.if_none_match and key in store.objects:
                raise PreconditionFailedError(f"{self.name}: {key!r} already exists", key=key)
            store.generation += 1
            info = _info(key, data, opts, checksums, store.generation)
            if key not in store.objects:
                bisect.insort(store.keys, key)
            store.objects[key] = (data, info)
            return info

    def delete(self, key: str) -> None:
        self._inject("delete", key)
        store = self._store
        with store.lock:
            if store.objects.pop(key, None) is not None:
                del store.keys[bisect.bisect_left(store.keys, key)]

    def capabilities(self) -> Capabilities:
        return Capabilities(
            conditional_read=True,
            conditional_write=True,
            checksum_algorithms=ALGORITHMS,
        )

    def close(self) -> None:
        """Nothing to release: the store outlives the instance (see ``drop_store``)."""

    # -- test helpers -----------------------------------------------------------------------

    def corrupt(self, key: str, data: bytes) -> None:
        """Replace the stored bytes of ``key`` without changing its info (tests only)."""
        with self._store.lock:
            _, info = self._store.objects[key]
            self._store.objects[key] = (data, info)


def _check_key(key: str) -> None:
    if not key or key.startswith("/"):
        raise PermanentError(f"invalid key {key!r}: keys are non-empty and relative", key=key)


def _info(
    key: str, data: bytes, opts: WriteOptions, checksums: Mapping[str, str], generation: int
) -> ObjectInfo:
    md5 = hashlib.md5(data, usedforsecurity=False)
    extra = {f"checksum_{name}": value for name, value in checksums.items() if name != "md5"}
    return ObjectInfo(
        key=key,
        size=len(data),
        etag=f'"{md5.hexdigest()}-{generation}"',
        last_modified=datetime.now(UTC),
        content_md5=md5.digest(),
        content=dict(opts.content),
        metadata=dict(opts.metadata),
        extra=extra,
    )


def slice_range(range: tuple[int, int], size: int, key: str) -> slice:
    """The slice for an inclusive ``(start, end)``: ``end`` past the object is clamped to its
    last byte; ``start`` at or past the end raises PermanentError (HTTP 416)."""
    start, end = range
    if start < 0 or end < start:
        raise ValueError(f"invalid range {range}: expected 0 <= start <= end")
    if start >= size:
        raise PermanentError(f"range {start}-{end} is beyond the object's {size} bytes", key=key)
    return slice(start, min(end, size - 1) + 1)


class _FaultyReader(io.RawIOBase):
    """Delivers ``after_bytes`` bytes of ``data``, then raises ``error`` (failure injection)."""

    def __init__(self, data: bytes, after_bytes: int, error: BaseException) -> None:
        self._data = memoryview(data)[:after_bytes]
        self._pos = 0
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= len(self._data):
            raise self._error
        n = min(len(buffer), len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n
