"""The rule registry: one function per SOV rule, registered with its id, title and default.

A rule yields ``Raised`` items (a plan path, why, how to fix). ``severity=None`` means a
violation, whose severity the evaluator resolves (plan override > profile > default);
a fixed severity marks a notice that overrides cannot turn into a block (rehearsal
exemptions, advisories).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hdh_migrate.plan.loader import DataPath
from hdh_migrate.policy.findings import Severity

if TYPE_CHECKING:
    from hdh_migrate.policy.context import PolicyInput


@dataclass(frozen=True)
class Raised:
    """One problem a rule found, before severity and position are resolved."""

    path: DataPath
    why: str
    fix: str
    subject: str = ""
    severity: Severity | None = None
    at_key: bool = False


Check = Callable[["PolicyInput"], Iterable[Raised]]


@dataclass(frozen=True)
class Rule:
    """A registered rule: ``check`` evaluates it; ``summary`` says what it checks."""

    id: str
    title: str
    default: Severity
    summary: str
    check: Check


RULES: dict[str, Rule] = {}

#: Rule numbers PROVIDERS.md leaves out (SOV-11 does not exist there).
MISSING_RULES = ("SOV-11",)


def rule(id: str, title: str, default: Severity, summary: str) -> Callable[[Check], Check]:
    """Register the decorated check under ``id``."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"rule {id} registered twice")
        RULES[id] = Rule(id, title, default, summary, check)
        return check

    return register


def all_rules() -> list[Rule]:
    """Every rule, in id order (importing the rule modules registers them)."""
    from hdh_migrate.policy import rules  # noqa: F401  (registration side effect)

    return [RULES[key] for key in sorted(RULES)]
