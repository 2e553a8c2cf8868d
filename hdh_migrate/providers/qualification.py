"""Is a target qualified? Keyed on (preset, offering, host pattern, region) and dated evidence.

Never on the company alone: OVHcloud's Public Cloud object storage and its SNC Cloud Platform
are different offerings with different answers. Rehearsal presets are never qualified.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from hdh_migrate.providers.models import Offering, Preset, Qualification, add_years

MAX_EVIDENCE_YEARS = 3


def is_qualified(preset: Preset, region: str, host: str | None, today: date) -> tuple[bool, str]:
    """``(ok, reason)``: True only for a ``qualified`` offering serving ``region`` on ``host``
    (a bare host or URL; None = the preset's own endpoint) with evidence at most three years
    old on ``today``. The reason is one line, fit for a finding. Never raises for unknown
    regions: they are simply not qualified."""
    if preset.rehearsal_only:
        return False, f"preset {preset.name!r} is for rehearsal only and never counts as qualified"
    offering = preset.offering_for(region)
    if offering is None:
        return False, _no_offering(preset, region)
    if host is not None and not offering.matches_host(bare_host(host)):
        return False, (
            f"host {bare_host(host)} is not an endpoint of offering {offering.name!r} "
            f"({offering.host_pattern})"
        )
    return _judge(offering, region, today)


def bare_host(host_or_url: str) -> str:
    """``https://S3.gra.io.cloud.ovh.net:443/x`` → ``s3.gra.io.cloud.ovh.net``."""
    text = host_or_url.strip()
    parsed = urlsplit(text if "://" in text else f"//{text}")
    return (parsed.hostname or text).lower()


def _no_offering(preset: Preset, region: str) -> str:
    if region not in preset.regions:
        return f"preset {preset.name!r} has no region {region!r} in the qualification registry"
    return f"no qualified offering of preset {preset.name!r} serves region {region!r}"


def _judge(offering: Offering, region: str, today: date) -> tuple[bool, str]:
    qual = offering.qualification
    what = f"offering {offering.name!r} in {region}"
    if qual.status != "qualified":
        return False, f"{what} is {qual.status.replace('_', ' ')} ({qual.evidence})"
    if qual.evidence_date is None:
        return False, f"{what}: qualification evidence is undated ({qual.evidence})"
    if qual.is_stale(today, MAX_EVIDENCE_YEARS):
        return False, _stale(what, qual, today)
    return True, f"{what} is {qual.scheme} qualified ({qual.evidence}, {qual.evidence_date})"


def _stale(what: str, qual: Qualification, today: date) -> str:
    assert qual.evidence_date is not None
    expired = add_years(qual.evidence_date, MAX_EVIDENCE_YEARS)
    return (
        f"{what}: evidence dated {qual.evidence_date} is {qual.age_days(today)} days old, "
        f"older than {MAX_EVIDENCE_YEARS} years since {expired}; re-check ANSSI's list"
    )
