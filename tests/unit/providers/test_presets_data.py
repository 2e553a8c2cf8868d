"""The shipped presets data file: every preset loads and holds the facts PROVIDERS.md states."""

from __future__ import annotations

from datetime import date

import pytest

from hdh_migrate.providers import (
    Preset,
    get_preset,
    load_registry,
    load_registry_file,
    preset_names,
)
from hdh_migrate.providers.models import sample_host

EXPECTED = [
    "ovh",
    "ovh-snc",
    "cloud-temple",
    "s3ns",
    "outscale",
    "scaleway",
    "minio",
    "seaweedfs",
    "generic",
]
MiB, GiB, TiB = 1024**2, 1024**3, 1024**4


def test_every_expected_preset_is_present_in_order() -> None:
    assert preset_names() == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_each_preset_loads_with_its_own_name(name: str) -> None:
    preset = get_preset(name)
    assert isinstance(preset, Preset)
    assert preset.name == name
    assert preset.title


def test_registry_is_dated_and_explains_its_sources() -> None:
    registry = load_registry()
    assert isinstance(registry.updated, date)
    assert "ANSSI" in registry.source_note
    assert "not available" in registry.source_note


def test_registry_is_parsed_once() -> None:
    assert load_registry() is load_registry()


def test_loading_the_file_again_gives_an_equal_registry() -> None:
    from hdh_migrate.providers import default_path

    assert load_registry_file(default_path()) == load_registry()


@pytest.mark.parametrize(
    "region",
    ["gra", "rbx", "sbg", "de", "waw", "eu-west-par", "eu-south-mil"],
)
def test_ovh_eu_regions(region: str) -> None:
    assert get_preset("ovh").region(region).eu is True


@pytest.mark.parametrize(
    "region",
    ["bhs", "ca-east-tor", "sgp", "ap-southeast-syd", "ap-south-mum", "us-east-va", "us-west-or"],
)
def test_ovh_non_eu_regions(region: str) -> None:
    found = get_preset("ovh").region(region)
    assert found.eu is False
    assert found.country not in {"FR", "DE", "PL", "IT"}


def test_uk_is_not_counted_as_eu() -> None:
    uk = get_preset("ovh").region("uk")
    assert (uk.country, uk.eu) == ("GB", False)


def test_ovh_us_regions_use_the_ovh_us_host() -> None:
    ovh = get_preset("ovh")
    assert ovh.endpoint("us-east-va") == "https://s3.us-east-va.io.cloud.ovh.us"
    assert ovh.endpoint("us-west-or").endswith(".ovh.us")
    assert ovh.endpoint("bhs") == "https://s3.bhs.io.cloud.ovh.net"


def test_every_region_of_every_preset_is_in_a_known_country() -> None:
    for preset in load_registry().presets.values():
        for region in preset.regions.values():
            assert len(region.country) == 2 and region.country.isupper(), region
            assert region.eu == (region.country in _EU_COUNTRIES), region


_EU_COUNTRIES = {"FR", "DE", "PL", "IT", "NL", "BE", "ES", "IE", "AT", "SE", "FI", "LU"}


@pytest.mark.parametrize("name", ["ovh", "ovh-snc", "cloud-temple", "s3ns", "outscale", "scaleway"])
def test_each_region_endpoint_host_belongs_to_its_offering(name: str) -> None:
    preset = get_preset(name)
    for region in preset.regions.values():
        offering = preset.offering_for(region.name)
        assert offering is not None, region.name
        template = region.endpoint_template or preset.endpoint_template
        host = sample_host(template, region.name)
        assert host and offering.matches_host(host), (region.name, host)


def test_explicit_endpoint_presets() -> None:
    for name in ("minio", "seaweedfs", "generic"):
        preset = get_preset(name)
        assert preset.requires_endpoint and preset.endpoint_template is None
        assert preset.regions == {} and preset.offerings == ()
    assert get_preset("minio").rehearsal_only and get_preset("seaweedfs").rehearsal_only
    assert not get_preset("generic").rehearsal_only


def test_cloud_presets_have_endpoints_and_are_not_rehearsal() -> None:
    for name in ("ovh", "ovh-snc", "cloud-temple", "s3ns", "outscale", "scaleway"):
        preset = get_preset(name)
        assert not preset.requires_endpoint and not preset.rehearsal_only
        assert preset.endpoint_template and preset.endpoint_template.startswith("https://")


def test_checksum_mode_is_when_required_everywhere() -> None:
    for preset in load_registry().presets.values():
        assert preset.checksum_mode == "when_required", preset.name


def test_default_s3_limits_and_provider_overrides() -> None:
    s3ns = get_preset("s3ns").limits
    assert (s3ns.min_part_size, s3ns.max_part_size) == (5 * MiB, 5 * GiB)
    assert (s3ns.max_part_count, s3ns.max_object_size) == (10_000, 5 * TiB)
    assert get_preset("scaleway").limits.max_part_count == 1000
    assert get_preset("ovh").limits.max_object_size == 48 * TiB


def test_statuses_per_offering() -> None:
    def status(name: str, region: str) -> str:
        offering = get_preset(name).offering_for(region)
        assert offering is not None
        return offering.qualification.status

    assert status("ovh", "gra") == "not_qualified"
    assert status("ovh-snc", "eu-west-rbx-snc") == "claimed"
    assert status("ovh-snc", "eu-west-sbg-snc") == "claimed"
    assert status("cloud-temple", "fr1") == "claimed"
    assert status("s3ns", "u-france-east1") == "qualified"
    assert status("outscale", "cloudgouv-eu-west-1") == "claimed"
    assert status("outscale", "eu-west-2") == "not_qualified"
    assert status("outscale", "us-east-2") == "not_qualified"
    assert status("scaleway", "fr-par") == "not_qualified"


def test_s3ns_evidence_is_dated_and_sourced() -> None:
    qual = get_preset("s3ns").offering_for("u-france-east1").qualification  # type: ignore[union-attr]
    assert qual.evidence_date == date(2025, 12, 1)
    assert qual.evidence == "source: documentation.s3ns.fr"
    assert qual.scheme == "SecNumCloud 3.2"


def test_unconfirmed_evidence_has_no_invented_dates() -> None:
    for name in ("ovh-snc", "cloud-temple", "outscale"):
        for offering in get_preset(name).offerings:
            assert offering.qualification.evidence_date is None, offering.name


def test_provider_quirks_are_keyed_by_slug() -> None:
    temple = get_preset("cloud-temple")
    assert temple.addressing_style == "path"
    assert temple.has_quirk("payload-signing-off")
    assert temple.has_quirk("no-flexible-checksums")
    assert temple.sse.sse_c == "no"
    assert get_preset("s3ns").has_quirk("project-id-header")
    assert get_preset("s3ns").has_quirk("mpu-no-md5")
    assert not get_preset("ovh").has_quirk("payload-signing-off")


def test_ovh_sse_support() -> None:
    sse = get_preset("ovh").sse
    assert (sse.sse_c, sse.sse_s3, sse.sse_kms) == ("yes", "yes", "no")


def test_models_are_frozen() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        get_preset("ovh").name = "other"  # type: ignore[misc]


def test_outscale_regions() -> None:
    outscale = get_preset("outscale")
    assert outscale.region("cloudgouv-eu-west-1").eu and outscale.region("eu-west-2").eu
    for name in ("us-east-2", "us-west-1", "ap-northeast-1"):
        assert outscale.region(name).eu is False, name
