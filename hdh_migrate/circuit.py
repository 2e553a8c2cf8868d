"""Circuit breakers, one per endpoint: stop a run soon after a server dies.

Without one, a dead source or target makes every worker sleep through the SDK's retries
times the tool's retries, object after object: a run that should stop prints nothing for
hours. A breaker counts *connection* failures (``ConnectionFailedError``: nothing could be
opened to the endpoint) per endpoint. Any success at that endpoint closes the streak. When
a streak has lasted ``open_after`` seconds with at least ``min_failures`` failures, the
circuit opens and stays open for the life of the process:

- workers check it before each attempt and while they sleep between retries, and give up
  the object at once with ``CircuitOpenError`` (``stages.retry``);
- the coordinator stops taking new work, records what is in flight and stops the run with
  exit 8, naming the endpoint (``engine.run.runner``). The next run starts with closed circuits:
  it resumes from the journal once the endpoint is back.

Bound: a dead endpoint stops the run at most ``open_after`` + one connection attempt
(``connect_timeout`` × the SDK's attempts) + one retry sleep slice after the first failure.

Thread-safe. Each process has one registry (``CIRCUITS``), fed by the backends (``success``
after every answered call, ``failure`` with every connection that could not be opened);
with a process or Dask executor the coordinator also feeds its own from the results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hdh_migrate.errors import CircuitOpenError

DEFAULT_OPEN_AFTER = 20.0  # seconds of nothing but connection failures at one endpoint
DEFAULT_MIN_FAILURES = 3
#: ``error_kind`` values of a result that count as a connection failure at its endpoint
CONNECTION_KINDS = frozenset({"ConnectionFailedError", "CircuitOpenError", "UnreachableError"})


@dataclass
class _Streak:
    first: float
    failures: int = 1


class Circuits:
    """The breakers of one process, keyed by endpoint name (a backend's ``name``)."""

    def __init__(
        self,
        open_after: float = DEFAULT_OPEN_AFTER,
        min_failures: int = DEFAULT_MIN_FAILURES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._streaks: dict[str, _Streak] = {}
        self._open: dict[str, str] = {}  # endpoint → why
        self.configure(open_after, min_failures)

    def configure(
        self, open_after: float = DEFAULT_OPEN_AFTER, min_failures: int = DEFAULT_MIN_FAILURES
    ) -> None:
        """Set the thresholds (the plan's ``defaults.circuit_open_after``)."""
        if open_after <= 0 or min_failures < 1:
            raise ValueError("open_after must be > 0 and min_failures >= 1")
        self.open_after, self.min_failures = float(open_after), int(min_failures)

    def reset(self) -> None:
        """Close every circuit (a new run in the same process)."""
        with self._lock:
            self._streaks.clear()
            self._open.clear()

    def failure(self, endpoint: str) -> None:
        """A connection to ``endpoint`` failed."""
        with self._lock:
            streak = self._streaks.get(endpoint)
            if streak is None:
                self._streaks[endpoint] = _Streak(self._clock())
            else:
                streak.failures += 1
            self._evaluate(endpoint)

    def success(self, *endpoints: str) -> None:
        """Something at each endpoint answered: its streak ends (an open circuit stays open)."""
        with self._lock:
            for endpoint in endpoints:
                self._streaks.pop(endpoint, None)

    def open_endpoint(self) -> tuple[str, str] | None:
        """``(endpoint, why)`` of the first open circuit, or None. Also opens a circuit whose
        streak has lasted long enough without a new failure being reported."""
        with self._lock:
            for endpoint in list(self._streaks):
                self._evaluate(endpoint)
            return next(iter(self._open.items()), None)

    def check(self, *endpoints: str) -> None:
        """Raise ``CircuitOpenError`` when one of ``endpoints`` (any, when none given) is open."""
        found = self.open_endpoint()
        if found is not None and (not endpoints or found[0] in endpoints):
            raise self.error(*found)

    @staticmethod
    def error(endpoint: str, why: str) -> CircuitOpenError:
        return CircuitOpenError(
            f"{endpoint} stopped answering: {why}; the run stopped",
            endpoint=endpoint,
            hint="check that the server is up and reachable, then run again (it resumes)",
        )

    def _evaluate(self, endpoint: str) -> None:
        streak = self._streaks.get(endpoint)
        if streak is None or endpoint in self._open:
            return
        lasted = self._clock() - streak.first
        if lasted >= self.open_after and streak.failures >= self.min_failures:
            self._open[endpoint] = (
                f"{streak.failures} connection failures in a row over {lasted:.0f} s"
            )


#: The process's breakers (workers and, with the threads executor, the coordinator).
CIRCUITS = Circuits()


def sleep_watching(seconds: float, circuits: Circuits = CIRCUITS, step: float = 0.25) -> None:
    """Sleep ``seconds`` in slices, raising ``CircuitOpenError`` as soon as a circuit opens
    (a retry's back-off never outlives a dead endpoint)."""
    deadline = time.monotonic() + seconds
    while True:
        circuits.check()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))
