"""Bytes read so far, per dataset and phase, in this process: what lets a progress bar
move inside a multi-GB object instead of jumping when it finishes.

Work units wrap their source stream in ``metered``; the CLI polls ``PROCESS_METER``. On an
executor whose tasks run in other processes (Dask), each worker process relays the growth
of its own ``PROCESS_METER`` (``counts``) to the coordinator's every half second
(``execution.dask_cluster``: ``DaskExecutor.relay``). Retried reads count again: the bar
shows bytes moved, capped at the phase's total by the reader of the meter. The inventory
counts what it listed under the phases ``listed`` (objects) and ``listed_bytes``.
"""

from __future__ import annotations

import threading
from typing import BinaryIO


class ByteMeter:
    """Thread-safe counters keyed by ``(dataset, phase)``."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._phases: dict[str, int] = {}  # every dataset together, never reset
        self._lock = threading.Lock()

    def add(self, dataset: str, phase: str, n: int) -> None:
        if n > 0:
            with self._lock:
                key = (dataset, phase)
                self._counts[key] = self._counts.get(key, 0) + n
                self._phases[phase] = self._phases.get(phase, 0) + n

    def total(self, phase: str) -> int:
        """Everything counted under ``phase`` in this process, resets ignored."""
        with self._lock:
            return self._phases.get(phase, 0)

    def get(self, dataset: str, phase: str) -> int:
        with self._lock:
            return self._counts.get((dataset, phase), 0)

    def reset(self, dataset: str, phase: str) -> None:
        with self._lock:
            self._counts.pop((dataset, phase), None)

    def snapshot(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return [(d, p, n) for (d, p), n in self._counts.items()]


PROCESS_METER = ByteMeter()


class MeteredReader:
    """A read-only stream that counts what it returns into a ``ByteMeter``."""

    def __init__(self, inner: BinaryIO, meter: ByteMeter, dataset: str, phase: str) -> None:
        self._inner, self._meter = inner, meter
        self._dataset, self._phase = dataset, phase

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self._meter.add(self._dataset, self._phase, len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Into the caller's buffer (the hashing and encrypting readers above ask for
        this): no bytes object allocated and copied per read."""
        count = readinto(self._inner, buffer)
        self._meter.add(self._dataset, self._phase, count)
        return count

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._inner.close()


def counts() -> list[tuple[str, str, int]]:
    """This process's meter, ``(dataset, phase, bytes)`` each: what a worker relays."""
    return PROCESS_METER.snapshot()


def readinto(stream: BinaryIO, buffer: bytearray | memoryview) -> int:
    """``stream.readinto(buffer)``, or a read copied into it for streams without one."""
    into = getattr(stream, "readinto", None)
    if into is not None:
        return int(into(buffer) or 0)
    view = memoryview(buffer).cast("B")
    data = stream.read(len(view))
    view[: len(data)] = data
    return len(data)


def metered(stream: BinaryIO, dataset: str, phase: str) -> BinaryIO:
    """``stream`` counted into ``PROCESS_METER`` under ``(dataset, phase)``."""
    return MeteredReader(stream, PROCESS_METER, dataset, phase)  # type: ignore[return-value]
