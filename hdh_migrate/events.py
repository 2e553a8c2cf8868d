"""How the core reports progress without knowing who listens.

The core calls ``reporter.event(name, **fields)``; the CLI renders (rich bars, JSON lines),
tests collect. Field values are plain data (str, int, float, bool, None) and never secrets.
"""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    def event(self, name: str, /, **fields: Any) -> None: ...


class NullReporter:
    """The default: listens to nothing."""

    def event(self, name: str, /, **fields: Any) -> None:
        return None


class ListReporter:
    """Keeps every event; for tests."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, name: str, /, **fields: Any) -> None:
        self.events.append((name, fields))
