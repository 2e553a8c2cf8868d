"""Errors raised by the preset registry: unknown names (with a suggestion) and broken data."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from hdh_migrate.errors import UsageError


def suggest(name: str, choices: Iterable[str]) -> str:
    """``"did you mean 'ovh'? "`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


class UnknownPresetError(UsageError):
    """A provider preset name that the registry does not hold (exit 2)."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = sorted(known)
        super().__init__(
            f"unknown provider preset {name!r}",
            hint=suggest(name, names) + "known presets: " + ", ".join(names),
        )
        self.name, self.known = name, tuple(names)


class UnknownRegionError(UsageError):
    """A region that the preset does not have (exit 2)."""

    def __init__(self, preset: str, region: str, known: Iterable[str]) -> None:
        names = list(known)
        super().__init__(
            f"provider preset {preset!r} has no region {region!r}",
            hint=suggest(region, names) + "valid regions: " + ", ".join(names),
        )
        self.preset, self.region, self.known = preset, region, tuple(names)


class PresetDataError(UsageError):
    """The presets data file is unreadable or invalid; the message names preset and field."""
