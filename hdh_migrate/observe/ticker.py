"""Call a function every N seconds on a daemon thread until stopped (stats lines, progress
heartbeats, metric files). The last call happens at stop, so short runs still report."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType


class Ticker:
    """``with Ticker(60, fn):`` calls ``fn()`` every 60 s and once more on exit;
    ``interval <= 0`` disables it entirely."""

    def __init__(self, interval: float, fn: Callable[[], None], *, final: bool = True) -> None:
        self.interval, self._fn, self._final = interval, fn, final
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Ticker:
        if self.interval > 0:
            self._thread = threading.Thread(target=self._loop, name="hdh-ticker", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        if self._final:
            self._fn()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._fn()
