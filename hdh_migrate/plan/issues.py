"""A problem found in a plan, before it gets a file position: path, message, hint."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from hdh_migrate.plan.loader import DataPath

# Section and structure names left out of a suggested environment variable name.
_STRUCTURAL = frozenset(
    {
        "sources",
        "targets",
        "keys",
        "waves",
        "datasets",
        "cutover",
        "switch",
        "rollback",
        "freeze",
        "hook",
        "unfreeze",
        "policy",
        "defaults",
        "credentials",
        "executor",
        "signing",
    }
)


@dataclass(frozen=True)
class Issue:
    """One finding about a plan. ``at_key`` points the position at the mapping key
    rather than its value (unknown and duplicate keys)."""

    path: DataPath
    message: str
    hint: str | None = None
    at_key: bool = False
    severity: Literal["error", "warning"] = "error"


def dotted(path: DataPath) -> str:
    """``("waves", 0, "datasets", 1, "target")`` → ``waves[0].datasets[1].target``."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{segment!r}]"
    return text


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"did you mean 'region'? "`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def choice_hint(name: str, choices: Iterable[str], what: str) -> str:
    """Did-you-mean followed by the list of valid names."""
    names = sorted(choices)
    listed = ", ".join(names) if names else "none defined"
    return f"{did_you_mean(name, names)}{what}: {listed}"


def env_name(path: DataPath) -> str:
    """A plausible environment variable name for the secret at ``path``."""
    words = [str(s) for s in path if isinstance(s, str) and s not in _STRUCTURAL]
    name = re.sub(r"[^A-Z0-9]+", "_", "_".join(words).upper()).strip("_")
    return name if name and not name[0].isdigit() else f"HDH_{name}".rstrip("_")


def reference_hint(path: DataPath) -> str:
    """How to write the secret at ``path`` as a reference (the value is never shown)."""
    return (
        f"write ${{env:{env_name(path)}}} or ${{file:/etc/hdh/secret}} and keep the value out "
        "of the plan (the value is not shown)"
    )
