"""Everything a rule may look at: the plan, where each value is written, the date, the
probe cache, the journal's dataset states and the environment. Plain, read-only data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

from hdh_migrate.backends.probe import ProbeResult
from hdh_migrate.plan import EffectiveDataset, Plan, S3Target
from hdh_migrate.plan.issues import dotted
from hdh_migrate.plan.loader import DataPath, Locations
from hdh_migrate.policy.findings import Location
from hdh_migrate.policy.profiles import Profile, profile
from hdh_migrate.policy.targets import TargetFacts, target_facts
from hdh_migrate.providers.overlay import Overlay


@dataclass(frozen=True)
class PolicyInput:
    """The inputs of one evaluation. ``probes`` maps target name → cached probe (None =
    never probed); ``dataset_states`` maps dataset → journal state (empty = nothing ran);
    ``decommissioned`` maps dataset → how its source was decommissioned (deleted, attested)."""

    plan: Plan
    file: str
    locations: Locations
    today: date
    probes: Mapping[str, ProbeResult | None] = field(default_factory=dict)
    dataset_states: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    decommissioned: Mapping[str, str] = field(default_factory=dict)
    overlay: Overlay = field(default_factory=Overlay.empty)

    @property
    def profile(self) -> Profile:
        return profile(self.plan.policy.profile)

    @property
    def rehearsal(self) -> bool:
        """True when reports must say REHEARSAL (profile rehearsal or ``rehearsal: true``)."""
        return self.plan.policy.profile == "rehearsal" or self.plan.policy.rehearsal

    @property
    def exempts_local(self) -> bool:
        """Local targets are exempt only under profile rehearsal with ``rehearsal: true``."""
        return self.profile.local_targets and self.plan.policy.rehearsal

    def target(self, name: str) -> TargetFacts | None:
        """The facts of S3 target ``name``; None for a memory or local target (rehearsals
        only: validation refuses them elsewhere, and no S3 rule applies to them)."""
        target = self.plan.targets[name]
        if not isinstance(target, S3Target):
            return None
        return target_facts(name, target, self.overlay, self.today)

    def targets(self) -> list[TargetFacts]:
        """The facts of every S3 target."""
        return [facts for name in self.plan.targets if (facts := self.target(name)) is not None]

    def exempt(self, facts: TargetFacts) -> bool:
        """True for a local target of a rehearsal plan (the service rules only warn)."""
        return facts.local and self.exempts_local

    def datasets(self) -> Iterator[tuple[EffectiveDataset, DataPath]]:
        """Each dataset's effective settings with the path of its entry in the plan."""
        for w, wave in enumerate(self.plan.waves):
            for d, dataset in enumerate(wave.datasets):
                yield self.plan.effective(dataset), ("waves", w, "datasets", d)

    def at(self, path: DataPath, *, key: bool = False) -> Location:
        """The position of ``path``; a value that is not written points at its closest
        written ancestor's key (``targets.x`` for a missing ``targets.x.hds``)."""
        line, column = self._position(path, key)
        return Location(self.file, line, column, dotted(path))

    def _position(self, path: DataPath, key: bool) -> tuple[int, int]:
        values, keys = self.locations.values, self.locations.keys
        if key and path in keys:
            return keys[path]
        if path in values:
            return values[path]
        for end in range(len(path) - 1, 0, -1):
            if path[:end] in keys:
                return keys[path[:end]]
            if path[:end] in values:
                return values[path[:end]]
        return self.locations.of(path)
