"""What the policy says about a plan: findings with a severity and a plan position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["block", "warn", "info"]
SEVERITIES: tuple[Severity, ...] = ("block", "warn", "info")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Location:
    """Where the offending value is written: 1-based line and column, and its dotted path."""

    file: str
    line: int
    column: int
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one part of the plan. ``why`` and ``fix`` are one line each and
    never hold a secret (rules read references, never their values)."""

    rule: str
    severity: Severity
    title: str
    location: Location
    why: str
    fix: str
    subject: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity == "block"

    def sort_key(self) -> tuple[int, int, int, str]:
        return (_RANK[self.severity], self.location.line, self.location.column, self.rule)

    def to_dict(self) -> dict[str, Any]:
        loc = self.location
        return {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "subject": self.subject,
            "location": {
                "file": loc.file,
                "line": loc.line,
                "column": loc.column,
                "path": loc.path,
            },
            "why": self.why,
            "fix": self.fix,
        }


def blocking(findings: list[Finding]) -> list[Finding]:
    """The findings that stop a run."""
    return [f for f in findings if f.blocking]


def worst(findings: list[Finding]) -> Severity | None:
    """The most severe level present, or None for no findings."""
    return min((f.severity for f in findings), key=_RANK.__getitem__, default=None)
