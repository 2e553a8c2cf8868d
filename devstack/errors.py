"""The one exception the stack raises: which service, why, and where its log is."""

from __future__ import annotations

from pathlib import Path


class DevstackError(Exception):
    """A service could not be installed, started or reached."""

    def __init__(self, service: str, reason: str, log: Path | None = None) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason
        self.log = log
        self.others: list[DevstackError] = []

    def all(self) -> list[DevstackError]:
        """This failure and the ones that happened alongside it (parallel start)."""
        return [self, *self.others]
