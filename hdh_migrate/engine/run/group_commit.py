"""Group commits for the coordinator's ``copied`` and ``verified`` marks.

One FULL transaction (one fsync) per object was ~40 % of the coordinator's time on small
objects (docs/benchmarks.md). Results are held here until ``size`` of them are waiting (the
coordinator uses its window: at most what is in flight) or the oldest has waited
``seconds``, then recorded together by ``flush`` — before anything
counts them (events, outcome, manifest). A crash loses at most the waiting group: those
objects are still ``copying`` (or ``copied``) in the journal, so the next run copies (or
verifies) them again; an object the journal already holds as copied is never re-uploaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

GROUP_SIZE = 64
GROUP_SECONDS = 0.2


class GroupCommit(Generic[T]):
    """Collects results; ``record`` gets each group, in arrival order."""

    def __init__(
        self,
        record: Callable[[list[T]], None],
        size: int = GROUP_SIZE,
        seconds: float = GROUP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._record, self._size, self._seconds, self._clock = record, size, seconds, clock
        self._waiting: list[T] = []
        self._since = 0.0

    def add(self, result: T) -> None:
        if not self._waiting:
            self._since = self._clock()
        self._waiting.append(result)
        if len(self._waiting) >= self._size or self._clock() - self._since >= self._seconds:
            self.flush()

    def flush(self) -> None:
        group, self._waiting = self._waiting, []
        if group:
            self._record(group)

    def __len__(self) -> int:
        return len(self._waiting)
