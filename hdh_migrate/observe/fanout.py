"""One reporter that forwards every event to several (screen, log file, metrics, stats)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hdh_migrate.events import Reporter


class Fanout:
    """Forwards each event, in order, to every reporter given."""

    def __init__(self, reporters: Iterable[Reporter]) -> None:
        self.reporters = tuple(reporters)

    def event(self, name: str, /, **fields: Any) -> None:
        for reporter in self.reporters:
            reporter.event(name, **fields)
