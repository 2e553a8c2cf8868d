"""Typed, frozen model of the provider presets data file (``presets.yaml``).

Qualification belongs to an *offering* (a service, on given hosts, in given regions), not to
a company: a preset lists its offerings, each region names the offering that serves it, and
each offering carries dated evidence. Facts the data file marks ``unknown`` load as ``None``.
"""

from __future__ import annotations

import fnmatch
import string
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hdh_migrate.errors import UsageError
from hdh_migrate.providers.errors import UnknownRegionError
from hdh_migrate.units import parse_size

Status = Literal["qualified", "claimed", "not_qualified", "unknown"]
Support = Literal["yes", "no", "unknown"]
Family = Literal["ovh", "cloud-temple", "s3ns", "outscale", "scaleway", "local", "generic"]

_UNKNOWN = "unknown"
UNKNOWN_COUNTRY = "ZZ"  # ISO 3166 user-assigned code: where the region is is not known


def _unknown_to_none(value: Any) -> Any:
    """The data file writes ``unknown`` for a fact nobody has confirmed; the model uses None."""
    return None if isinstance(value, str) and value.strip().lower() == _UNKNOWN else value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Qualification(_Frozen):
    """What is known of one offering's security qualification, with dated evidence."""

    status: Status
    scheme: str = "SecNumCloud 3.2"
    evidence: str
    evidence_date: date | None = None
    extra_eu_law_immune: bool | None = None
    hds_certified: bool | None = None
    notes: str = ""

    _nullable = field_validator(
        "evidence_date", "extra_eu_law_immune", "hds_certified", mode="before"
    )(_unknown_to_none)

    def age_days(self, today: date) -> int | None:
        """Days since the evidence date, or None when the evidence is undated."""
        return None if self.evidence_date is None else (today - self.evidence_date).days

    def is_stale(self, today: date, max_years: int = 3) -> bool:
        """True when the evidence is undated or older than ``max_years`` (ANSSI: 3 years)."""
        if self.evidence_date is None:
            return True
        return today > add_years(self.evidence_date, max_years)


def add_years(day: date, years: int) -> date:
    """``day`` plus whole years; 29 February becomes 28 February in a non-leap year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class Offering(_Frozen):
    """A service of a provider: the hosts it answers on, its regions, its qualification."""

    name: str
    title: str = ""
    host_pattern: str
    regions: tuple[str, ...]
    qualification: Qualification

    def matches_host(self, host: str) -> bool:
        """Case-insensitive glob match of a bare host name against ``host_pattern``."""
        return fnmatch.fnmatchcase(host.lower(), self.host_pattern.lower())


class Region(_Frozen):
    """A region of a preset: where it is (ISO 3166 alpha-2), whether in the EU, who serves it."""

    name: str
    location: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    eu: bool
    offering: str | None = None
    endpoint_template: str | None = None  # overrides the preset's (e.g. OVH US: *.ovh.us)
    notes: str = ""


class SseSupport(_Frozen):
    """Server-side encryption modes the service accepts through the S3 API."""

    sse_c: Support = "unknown"
    sse_s3: Support = "unknown"
    sse_kms: Support = "unknown"
    notes: str = ""


class Limits(_Frozen):
    """Size limits in bytes (``None`` = unknown). Sizes may be written ``5MiB`` in the file."""

    min_part_size: int | None = None
    max_part_size: int | None = None
    max_part_count: int | None = None
    max_object_size: int | None = None
    max_key_length: int | None = None
    notes: str = ""

    @field_validator("min_part_size", "max_part_size", "max_object_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        value = _unknown_to_none(value)
        return parse_size(value) if isinstance(value, str) else value

    _count = field_validator("max_part_count", "max_key_length", mode="before")(_unknown_to_none)


class KeyRules(_Frozen):
    """How the service treats object keys (``hdh_migrate.stages.names``). Unknown behaviour
    is assumed to fold: a key that might be folded onto another is refused, never copied
    over it."""

    max_segment_length: int | None = None  # bytes per path segment (filer-backed stores)
    folds_empty_segments: bool = True  # a//b stored as a/b
    folds_trailing_slash: bool = True  # x/ is a folder, the same name as x
    case_insensitive: bool = False
    normalises: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = None
    notes: str = ""


class Preset(_Frozen):
    """One provider preset: how to talk to the service and what is known of it."""

    name: str
    title: str
    family: Family
    endpoint_template: str | None = None
    requires_endpoint: bool = False
    rehearsal_only: bool = False
    regions: dict[str, Region] = Field(default_factory=dict)
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    signature: Literal["s3v4", "s3"] = "s3v4"
    checksum_mode: Literal["when_required", "when_supported"] = "when_required"
    checksums: tuple[str, ...] = ()
    checksums_confirmed: bool = False
    sse: SseSupport = SseSupport()
    limits: Limits = Limits()
    key_rules: KeyRules = KeyRules()
    quirks: tuple[str, ...] = ()
    offerings: tuple[Offering, ...] = ()
    sources: tuple[str, ...] = ()

    @field_validator("regions", mode="before")
    @classmethod
    def _name_regions(cls, value: Any) -> Any:
        """Regions are written as a mapping; each entry gets its key as ``name``."""
        if not isinstance(value, dict):
            return value
        return {k: {"name": k, **v} if isinstance(v, dict) else v for k, v in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> Preset:
        _check_preset(self)
        return self

    @property
    def region_names(self) -> list[str]:
        return list(self.regions)

    @property
    def quirk_ids(self) -> tuple[str, ...]:
        """Stable slugs of the quirks (the text before the first ``:``)."""
        return tuple(q.split(":", 1)[0].strip() for q in self.quirks)

    def has_quirk(self, quirk_id: str) -> bool:
        return quirk_id in self.quirk_ids

    def accepts_any_region(self) -> bool:
        """True for presets without a region list (minio, seaweedfs, generic)."""
        return not self.regions

    def region(self, name: str) -> Region:
        """The named region; raises UnknownRegionError (did-you-mean + valid list).

        A preset without a region list accepts any name and returns a placeholder region:
        country ``ZZ`` (unknown), ``eu`` False, no offering — nothing is known of it.
        """
        if name in self.regions:
            return self.regions[name]
        if self.accepts_any_region():
            return Region(name=name, location="unknown", country=UNKNOWN_COUNTRY, eu=False)
        raise UnknownRegionError(self.name, name, self.regions)

    def offering(self, name: str) -> Offering | None:
        return next((o for o in self.offerings if o.name == name), None)

    def offering_for(self, region: str) -> Offering | None:
        """The offering serving ``region`` (None for an unknown region or none declared)."""
        found = self.regions.get(region)
        return self.offering(found.offering) if found and found.offering else None

    def offerings_for_host(self, host: str) -> tuple[Offering, ...]:
        """Offerings whose ``host_pattern`` matches the bare host name ``host`` (SOV-05)."""
        return tuple(o for o in self.offerings if o.matches_host(host))

    def endpoint(self, region: str, **vars: str) -> str:
        """The endpoint URL for ``region``; ``vars`` fill other placeholders (``namespace``).

        Raises UsageError when the preset needs an explicit endpoint or a variable is missing,
        UnknownRegionError for a region the preset does not have.
        """
        template = self._template(region)
        try:
            return template.format(region=region, **vars)
        except KeyError as exc:
            raise UsageError(
                f"provider preset {self.name!r} needs a value for {{{exc.args[0]}}} in {template}",
                hint=f"set {exc.args[0]}: in the target",
            ) from None

    def _template(self, region: str) -> str:
        if self.endpoint_template is None:
            raise UsageError(
                f"provider preset {self.name!r} has no endpoint template",
                hint="give the target an explicit endpoint: https://…",
            )
        return self.region(region).endpoint_template or self.endpoint_template


class Registry(_Frozen):
    """The whole data file: when it was last checked, where facts come from, the presets."""

    updated: date
    source_note: str
    presets: dict[str, Preset]

    @field_validator("presets", mode="before")
    @classmethod
    def _name_presets(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: {"name": k, **v} if isinstance(v, dict) else v for k, v in value.items()}


def template_fields(template: str) -> set[str]:
    """Placeholder names of a ``str.format`` template."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _check_preset(preset: Preset) -> None:
    """Cross-field rules of one preset; raises ValueError (pydantic reports the preset)."""
    _check_endpoint_rules(preset)
    _check_offerings(preset)


def _check_endpoint_rules(preset: Preset) -> None:
    if preset.requires_endpoint != (preset.endpoint_template is None):
        raise ValueError("requires_endpoint must be true exactly when endpoint_template is null")
    if preset.rehearsal_only and not preset.requires_endpoint:
        raise ValueError("a rehearsal_only preset must require an explicit endpoint")
    for key, region in preset.regions.items():
        if key != region.name:
            raise ValueError(f"regions.{key}.name: {region.name!r} differs from its key")
        template = region.endpoint_template or preset.endpoint_template or ""
        if template and "region" not in template_fields(template) and len(preset.regions) > 1:
            raise ValueError(f"regions.{region.name}: endpoint template lacks {{region}}")


def _check_offerings(preset: Preset) -> None:
    names = [o.name for o in preset.offerings]
    if len(set(names)) != len(names):
        raise ValueError(f"offerings: duplicate offering name in {names}")
    for region in preset.regions.values():
        _check_region_offering(preset, region)
    for offering in preset.offerings:
        for name in offering.regions:
            found = preset.regions.get(name)
            if found is None or found.offering != offering.name:
                raise ValueError(
                    f"offerings.{offering.name}.regions: {name!r} is not a region served by it"
                )


def _check_region_offering(preset: Preset, region: Region) -> None:
    if region.offering is None:
        return
    offering = preset.offering(region.offering)
    if offering is None:
        raise ValueError(f"regions.{region.name}.offering: no offering named {region.offering!r}")
    if region.name not in offering.regions:
        raise ValueError(f"offerings.{offering.name}.regions: missing {region.name!r}")
    host = sample_host(region.endpoint_template or preset.endpoint_template, region.name)
    if host and not offering.matches_host(host):
        raise ValueError(
            f"regions.{region.name}: endpoint host {host} does not match "
            f"offerings.{offering.name}.host_pattern {offering.host_pattern}"
        )


def sample_host(template: str | None, region: str) -> str | None:
    """The host of ``template`` for ``region`` with other placeholders set to ``example``."""
    if template is None:
        return None
    values = {f: "example" for f in template_fields(template)} | {"region": region}
    url = template.format(**values)
    return url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
