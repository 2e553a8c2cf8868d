"""Policy profiles: what a plan may do under ``policy.profile``.

``hdh`` — France only, qualified services only, client-side encryption with customer-held
keys required (SOV-09 blocks), verification required, no local targets.
``rehearsal`` — any EU location; local targets (rehearsal presets, loopback endpoints) are
exempt from the service rules when the plan also says ``rehearsal: true``; every report
flags REHEARSAL loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hdh_migrate.policy.findings import Severity


@dataclass(frozen=True)
class Profile:
    """``countries`` = ISO codes a target may be in (None = any EU country)."""

    name: str
    countries: frozenset[str] | None
    local_targets: bool
    severities: Mapping[str, Severity] = field(default_factory=dict)


HDH = Profile("hdh", frozenset({"FR"}), local_targets=False, severities={"SOV-09": "block"})
REHEARSAL = Profile("rehearsal", None, local_targets=True)
PROFILES: dict[str, Profile] = {HDH.name: HDH, REHEARSAL.name: REHEARSAL}


def profile(name: str) -> Profile:
    """The named profile (the plan model only admits known names)."""
    return PROFILES[name]
