"""Evidence overlays: an organisation's own, dated qualification evidence, kept beside its
plans (``evidence/*.yaml`` next to the plan file) and layered over the built-in presets.

An overlay file::

    evidence:
      - preset: ovh-snc
        offering: ovh-snc-cloud-platform
        status: qualified                      # what the organisation checked
        scheme: SecNumCloud 3.2
        evidence: "ANSSI visa SNC-2026-0042, list of 2026-06-01"
        evidence_date: 2026-06-01              # the date of the evidence itself
        sources: [https://cyber.gouv.fr/…]     # at least one URL
        recorded_by: rssi@hdh.example          # who recorded it
        recorded_on: 2026-06-03
        expires: 2027-06-01                    # optional: stops counting after this date
        hds_certified: true                    # optional facts, as in presets.yaml
        extra_eu_law_immune: true

Each entry replaces the offering's qualification wholesale (facts it omits are unknown,
never inherited from the preset), so what the audit judges is exactly what was recorded.
Evidence past ``expires``, or older than the policy allows (3 years), does not qualify:
the rules report it as a finding like stale preset evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hdh_migrate.providers.errors import PresetDataError
from hdh_migrate.providers.models import Offering, Preset, Qualification, Status


class EvidenceEntry(BaseModel):
    """One recorded fact: an offering's qualification, with where it comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str
    offering: str
    status: Status
    scheme: str = "SecNumCloud 3.2"
    evidence: str = Field(min_length=1)
    evidence_date: date
    sources: tuple[str, ...] = Field(min_length=1)
    recorded_by: str = Field(min_length=1)
    recorded_on: date
    expires: date | None = None
    hds_certified: bool | None = None
    extra_eu_law_immune: bool | None = None
    notes: str = ""

    def qualification(self, today: date) -> Qualification:
        status: Status = self.status
        if self.expires is not None and today > self.expires:
            status = "unknown"
        note = f"evidence overlay, recorded by {self.recorded_by} on {self.recorded_on}"
        return Qualification(
            status=status,
            scheme=self.scheme,
            evidence=self.evidence
            + (f" (expired {self.expires})" if status != self.status else ""),
            evidence_date=self.evidence_date,
            extra_eu_law_immune=self.extra_eu_law_immune,
            hds_certified=self.hds_certified,
            notes=f"{note}; {self.notes}" if self.notes else note,
        )


@dataclass(frozen=True)
class OverlayFact:
    """An entry and the file it came from."""

    entry: EvidenceEntry
    file: str

    def expired(self, today: date) -> bool:
        return self.entry.expires is not None and today > self.entry.expires


@dataclass(frozen=True)
class Overlay:
    """Overlay facts keyed by (preset, offering)."""

    facts: Mapping[tuple[str, str], OverlayFact]

    @classmethod
    def empty(cls) -> Overlay:
        return cls({})

    def fact(self, preset: str, offering: str) -> OverlayFact | None:
        return self.facts.get((preset, offering))

    def apply(self, preset: Preset, today: date) -> Preset:
        """``preset`` with the qualification of each overlaid offering replaced."""
        if not any(key[0] == preset.name for key in self.facts):
            return preset
        offerings = tuple(self._offering(preset.name, o, today) for o in preset.offerings)
        return preset.model_copy(update={"offerings": offerings})

    def _offering(self, preset: str, offering: Offering, today: date) -> Offering:
        fact = self.fact(preset, offering.name)
        if fact is None:
            return offering
        return offering.model_copy(update={"qualification": fact.entry.qualification(today)})


def overlay_files(plan_file: str | Path) -> list[Path]:
    """The overlay files beside a plan: ``<plan dir>/evidence/*.yaml`` (and ``.yml``),
    regular files only, in name order."""
    folder = Path(plan_file).parent / "evidence"
    if not folder.is_dir():
        return []
    found = [*folder.glob("*.yaml"), *folder.glob("*.yml")]
    return sorted(p for p in found if p.is_file() and not p.is_symlink())


def load_overlay(files: Iterable[Path], presets: Mapping[str, Preset]) -> Overlay:
    """Parse and check overlay files; PresetDataError naming the file and entry when one is
    malformed or names an unknown preset or offering, or when two files record the same
    offering."""
    facts: dict[tuple[str, str], OverlayFact] = {}
    for path in files:
        for number, entry in enumerate(_entries(path), 1):
            key = (entry.preset, entry.offering)
            _check_known(path, number, entry, presets)
            if key in facts:
                raise PresetDataError(
                    f"{path}: evidence[{number}]: {entry.preset}/{entry.offering} is also "
                    f"recorded in {facts[key].file}",
                    hint="keep one record per offering",
                )
            facts[key] = OverlayFact(entry, str(path))
    return Overlay(facts)


def _entries(path: Path) -> list[EvidenceEntry]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PresetDataError(
            f"{path}: cannot read evidence overlay ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("evidence"), list):
        raise PresetDataError(f"{path}: an evidence overlay is a mapping with a list evidence:")
    entries = []
    for number, raw in enumerate(data["evidence"], 1):
        try:
            entries.append(EvidenceEntry.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "<entry>"
            raise PresetDataError(
                f"{path}: evidence[{number}].{where}: {first['msg']}",
                hint="see docs/audit.md (evidence overlays) for the fields",
            ) from None
    return entries


def _check_known(
    path: Path, number: int, entry: EvidenceEntry, presets: Mapping[str, Preset]
) -> None:
    preset = presets.get(entry.preset)
    if preset is None:
        raise PresetDataError(f"{path}: evidence[{number}].preset: unknown preset {entry.preset!r}")
    if entry.offering not in {o.name for o in preset.offerings}:
        names = ", ".join(o.name for o in preset.offerings) or "none"
        raise PresetDataError(
            f"{path}: evidence[{number}].offering: preset {entry.preset!r} has no offering "
            f"{entry.offering!r} (offerings: {names})"
        )
