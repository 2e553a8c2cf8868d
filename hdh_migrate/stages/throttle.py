"""A process-wide bandwidth limit shared by every stream (a token bucket)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import BinaryIO

from hdh_migrate.stages.meter import readinto


class Bandwidth:
    """At most ``rate`` bytes per second across all callers of ``take``; ``rate=0`` = unlimited."""

    def __init__(
        self, rate: int, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst or max(rate, 1)
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        """Block until ``n`` bytes may pass."""
        if self.rate <= 0 or n <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n
            debt = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if debt > 0:
            time.sleep(debt)


class LimitedReader:
    """A read-only stream that charges every byte it returns to a shared ``Bandwidth``."""

    def __init__(self, inner: BinaryIO, bandwidth: Bandwidth) -> None:
        self._inner = inner
        self._bw = bandwidth

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self._bw.take(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        count = readinto(self._inner, buffer)
        self._bw.take(count)
        return count

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._inner.close()


WORKER_MIN_BURST = 64 << 10

#: The limit every copy in this process shares; ``configure`` sets it (0 = unlimited).
PROCESS_BANDWIDTH = Bandwidth(0)


def configure(rate: int | None, burst: int | None = None) -> None:
    """Set the process-wide limit in bytes per second (None or 0 = unlimited)."""
    global PROCESS_BANDWIDTH
    PROCESS_BANDWIDTH = Bandwidth(rate or 0, burst)


def limited(stream: BinaryIO) -> BinaryIO:
    """``stream`` charged to the process-wide limit (itself when unlimited)."""
    bandwidth = PROCESS_BANDWIDTH
    return stream if bandwidth.rate <= 0 else LimitedReader(stream, bandwidth)  # type: ignore[return-value]


def use_rate(rate: int) -> None:
    """Set a worker process's share of the run's limit unless it already is ``rate`` (the
    bucket keeps its state between the tasks a worker runs under the same share). Its burst
    is a tenth of a second: N workers starting together overshoot the run's limit by at
    most a tenth of a second's worth, not N seconds' worth."""
    if PROCESS_BANDWIDTH.rate != max(rate, 0):
        configure(rate, max(rate // 10, WORKER_MIN_BURST))


def current_rate() -> int:
    """The process-wide limit in bytes per second (0 = unlimited)."""
    return PROCESS_BANDWIDTH.rate
