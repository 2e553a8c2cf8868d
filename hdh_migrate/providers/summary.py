"""JSON-ready views of the registry for reports and the ``providers`` commands.

The CLI renders these dictionaries (as tables or ``--json``); nothing here formats text for a
terminal. ``today`` is explicit so evidence age is reproducible.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hdh_migrate.providers.models import Offering, Preset, Region, Registry
from hdh_migrate.providers.qualification import MAX_EVIDENCE_YEARS, is_qualified

REHEARSAL = "rehearsal_only"
NO_DATA = "no_data"


def registry_summary(registry: Registry, today: date) -> dict[str, Any]:
    """The list view: registry metadata and one summary per preset."""
    return {
        "updated": registry.updated.isoformat(),
        "source_note": registry.source_note,
        "as_of": today.isoformat(),
        "presets": [preset_summary(p, today) for p in registry.presets.values()],
    }


def preset_summary(preset: Preset, today: date) -> dict[str, Any]:
    """One row: name, family, region counts, qualification summary, latest evidence date."""
    eu = sum(1 for r in preset.regions.values() if r.eu)
    dates = [o.qualification.evidence_date for o in preset.offerings]
    known = [d for d in dates if d is not None]
    return {
        "name": preset.name,
        "title": preset.title,
        "family": preset.family,
        "regions": {"eu": eu, "non_eu": len(preset.regions) - eu, "any": not preset.regions},
        "qualification": qualification_summary(preset),
        "qualified_regions": qualified_regions(preset, today),
        "evidence_date": max(known).isoformat() if known else None,
        "rehearsal_only": preset.rehearsal_only,
    }


def qualification_summary(preset: Preset) -> list[dict[str, Any]]:
    """Per status, the regions holding it: ``[{"status": "claimed", "regions": [...]}]``.

    Rehearsal presets report ``rehearsal_only``; presets without offerings ``no_data``.
    """
    if preset.rehearsal_only:
        return [{"status": REHEARSAL, "regions": []}]
    groups: dict[str, list[str]] = {}
    for region in preset.regions.values():
        groups.setdefault(_region_status(preset, region), []).append(region.name)
    return [{"status": s, "regions": names} for s, names in groups.items()] or [
        {"status": NO_DATA, "regions": []}
    ]


def qualified_regions(preset: Preset, today: date) -> list[str]:
    """Regions where ``is_qualified`` holds on ``today`` with the preset's own endpoint."""
    return [r for r in preset.regions if is_qualified(preset, r, None, today)[0]]


def preset_detail(preset: Preset, today: date) -> dict[str, Any]:
    """Everything known of one preset, plus per-region qualification judged on ``today``."""
    detail = preset.model_dump(mode="json")
    detail["as_of"] = today.isoformat()
    detail["regions"] = [region_detail(preset, r, today) for r in preset.regions.values()]
    detail["offerings"] = [offering_detail(o, today) for o in preset.offerings]
    return detail


def region_detail(preset: Preset, region: Region, today: date) -> dict[str, Any]:
    """A region with its offering's status, evidence, age and the qualification verdict."""
    offering = preset.offering_for(region.name)
    ok, reason = is_qualified(preset, region.name, None, today)
    row = region.model_dump(mode="json") | {"qualified": ok, "reason": reason}
    return row | (_evidence(offering, today) if offering else _no_evidence())


def offering_detail(offering: Offering, today: date) -> dict[str, Any]:
    """An offering as in the data file, plus the evidence age and staleness on ``today``."""
    return offering.model_dump(mode="json") | _evidence(offering, today)


def _evidence(offering: Offering, today: date) -> dict[str, Any]:
    qual = offering.qualification
    return {
        "status": qual.status,
        "evidence": qual.evidence,
        "evidence_date": qual.evidence_date.isoformat() if qual.evidence_date else None,
        "evidence_age_days": qual.age_days(today),
        "stale": qual.is_stale(today, MAX_EVIDENCE_YEARS),
    }


def _no_evidence() -> dict[str, Any]:
    return {
        "status": NO_DATA,
        "evidence": None,
        "evidence_date": None,
        "evidence_age_days": None,
        "stale": True,
    }


def _region_status(preset: Preset, region: Region) -> str:
    offering = preset.offering_for(region.name)
    return offering.qualification.status if offering else NO_DATA
