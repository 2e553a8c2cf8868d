"""Read a plan file for the policy: the validated plan plus where each value is written."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from hdh_migrate.plan import Plan, check_text
from hdh_migrate.plan.check import read_plan_text
from hdh_migrate.plan.errors import InvalidPlan
from hdh_migrate.plan.loader import Locations, load_document


@dataclass(frozen=True)
class PlanSource:
    """A validated plan, its file name as given, the positions of its values, the SHA-256
    of its bytes."""

    plan: Plan
    file: str
    locations: Locations
    sha256: str


def read_plan(path: str | Path) -> PlanSource:
    """The plan with positions. Raises InvalidPlan (exit 2) like ``load_plan``; reads only."""
    text = read_plan_text(Path(path))
    result = check_text(text, str(path))
    if result.errors or result.plan is None:
        raise InvalidPlan(result.errors)
    locations = load_document(text).locations
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return PlanSource(result.plan, str(path), locations, digest)
