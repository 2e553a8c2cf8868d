"""Provider presets as data: endpoints, regions, limits, quirks and dated qualification.

The facts live in ``presets.yaml`` (one file, easy to update when ANSSI's list changes);
this package validates them once and answers questions about them. Qualification is keyed
on the offering (preset, offering, host pattern, region), never on the company.
"""

from __future__ import annotations

from hdh_migrate.providers.errors import PresetDataError, UnknownPresetError, UnknownRegionError
from hdh_migrate.providers.models import (
    Limits,
    Offering,
    Preset,
    Qualification,
    Region,
    Registry,
    SseSupport,
)
from hdh_migrate.providers.qualification import MAX_EVIDENCE_YEARS, bare_host, is_qualified
from hdh_migrate.providers.registry import (
    default_path,
    get_preset,
    load_registry,
    load_registry_file,
    preset_names,
)

__all__ = [
    "MAX_EVIDENCE_YEARS",
    "Limits",
    "Offering",
    "Preset",
    "PresetDataError",
    "Qualification",
    "Region",
    "Registry",
    "SseSupport",
    "UnknownPresetError",
    "UnknownRegionError",
    "bare_host",
    "default_path",
    "get_preset",
    "is_qualified",
    "load_registry",
    "load_registry_file",
    "preset_names",
]
