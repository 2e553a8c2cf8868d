"""Facts about one target that several rules need: its preset, region, endpoint host.

Built defensively: a preset or region the registry does not know leaves ``preset`` or
``region`` None (the rules report it) instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from hdh_migrate.errors import HdhError
from hdh_migrate.plan import S3Target
from hdh_migrate.plan.types import is_loopback
from hdh_migrate.providers import Offering, Preset, Region, bare_host, get_preset
from hdh_migrate.providers.overlay import Overlay


@dataclass(frozen=True)
class TargetFacts:
    """``host``/``scheme`` of the endpoint the run would use (None when none can be built);
    ``local`` = a rehearsal-only preset or a loopback endpoint."""

    name: str
    target: S3Target
    preset: Preset | None
    region: Region | None
    offering: Offering | None
    url: str | None
    host: str | None
    scheme: str | None

    @property
    def local(self) -> bool:
        rehearsal_preset = self.preset is not None and self.preset.rehearsal_only
        return rehearsal_preset or (self.host is not None and is_loopback(self.host))

    @property
    def explicit_endpoint(self) -> bool:
        return self.target.endpoint is not None


def target_facts(
    name: str, target: S3Target, overlay: Overlay | None = None, today: date | None = None
) -> TargetFacts:
    """The facts of ``target`` (with the evidence overlay applied to its preset); never
    raises for unknown presets or regions."""
    preset = _preset(target.provider)
    if preset is not None and overlay is not None:
        preset = overlay.apply(preset, today or date.today())
    region = _region(preset, target.region)
    offering = preset.offering_for(target.region) if preset else None
    url = _url(preset, target)
    host = bare_host(url) if url else None
    scheme = urlsplit(url).scheme if url else None
    return TargetFacts(name, target, preset, region, offering, url, host, scheme)


def _preset(name: str) -> Preset | None:
    try:
        return get_preset(name)
    except HdhError:
        return None


def _region(preset: Preset | None, name: str) -> Region | None:
    if preset is None:
        return None
    try:
        return preset.region(name)
    except HdhError:
        return None


def _url(preset: Preset | None, target: S3Target) -> str | None:
    if target.endpoint is not None:
        return str(target.endpoint)
    if preset is None:
        return None
    extra = {"namespace": target.namespace} if target.namespace else {}
    try:
        return preset.endpoint(target.region, **extra)
    except HdhError:
        return None
