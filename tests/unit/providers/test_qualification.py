"""is_qualified: keyed on (preset, offering, host pattern, region) with evidence ≤ 3 years."""

from __future__ import annotations

from datetime import date

import pytest

from hdh_migrate.providers import Qualification, bare_host, get_preset, is_qualified
from hdh_migrate.providers.models import add_years

TODAY = date(2026, 11, 29)
S3NS_REGION = "u-france-east1"


def test_s3ns_is_qualified_with_its_own_endpoint() -> None:
    ok, reason = is_qualified(get_preset("s3ns"), S3NS_REGION, None, TODAY)
    assert ok, reason
    assert "SecNumCloud 3.2" in reason and "2025-12-01" in reason


@pytest.mark.parametrize(
    "host",
    ["storage.s3nsapis.fr", "https://storage.s3nsapis.fr", "HTTPS://Storage.S3NSapis.fr:443/b"],
)
def test_s3ns_host_forms_are_accepted(host: str) -> None:
    assert is_qualified(get_preset("s3ns"), S3NS_REGION, host, TODAY)[0]


def test_foreign_host_is_not_qualified_even_in_a_qualified_region() -> None:
    ok, reason = is_qualified(get_preset("s3ns"), S3NS_REGION, "storage.googleapis.com", TODAY)
    assert not ok
    assert "storage.googleapis.com" in reason and "s3ns-premi3ns-storage" in reason


def test_evidence_ages_out_after_three_years() -> None:
    s3ns = get_preset("s3ns")
    assert is_qualified(s3ns, S3NS_REGION, None, date(2028, 12, 1))[0]
    ok, reason = is_qualified(s3ns, S3NS_REGION, None, date(2028, 12, 2))
    assert not ok
    assert "older than 3 years" in reason and "ANSSI" in reason


@pytest.mark.parametrize(
    ("preset", "region", "word"),
    [
        ("ovh", "gra", "not qualified"),
        ("ovh", "bhs", "not qualified"),
        ("ovh", "us-east-va", "not qualified"),
        ("ovh-snc", "eu-west-rbx-snc", "claimed"),
        ("cloud-temple", "fr1", "claimed"),
        ("outscale", "cloudgouv-eu-west-1", "claimed"),
        ("outscale", "eu-west-2", "not qualified"),
        ("scaleway", "fr-par", "not qualified"),
    ],
)
def test_unqualified_offerings(preset: str, region: str, word: str) -> None:
    ok, reason = is_qualified(get_preset(preset), region, None, TODAY)
    assert not ok
    assert word in reason


def test_ovh_public_cloud_host_in_snc_preset_is_refused() -> None:
    ovh_snc = get_preset("ovh-snc")
    ok, reason = is_qualified(ovh_snc, "eu-west-rbx-snc", "s3.gra.io.cloud.ovh.net", TODAY)
    assert not ok and "is not an endpoint of offering" in reason


@pytest.mark.parametrize("name", ["minio", "seaweedfs"])
def test_rehearsal_presets_are_never_qualified(name: str) -> None:
    ok, reason = is_qualified(get_preset(name), "us-east-1", "127.0.0.1", TODAY)
    assert not ok and "rehearsal" in reason


def test_generic_and_unknown_regions_are_not_qualified() -> None:
    assert not is_qualified(get_preset("generic"), "anything", "s3.example.eu", TODAY)[0]
    ok, reason = is_qualified(get_preset("s3ns"), "europe-west9", None, TODAY)
    assert not ok and "no region 'europe-west9'" in reason


def test_undated_qualified_evidence_is_refused() -> None:
    s3ns = get_preset("s3ns")
    offering = s3ns.offerings[0]
    undated = offering.qualification.model_copy(update={"evidence_date": None})
    preset = s3ns.model_copy(
        update={"offerings": (offering.model_copy(update={"qualification": undated}),)}
    )
    ok, reason = is_qualified(preset, S3NS_REGION, None, TODAY)
    assert not ok and "undated" in reason


def test_qualification_age_and_staleness() -> None:
    qual = Qualification(status="qualified", evidence="visa X", evidence_date=date(2024, 2, 29))
    assert qual.age_days(date(2024, 3, 1)) == 1
    assert not qual.is_stale(date(2027, 2, 28))
    assert qual.is_stale(date(2027, 3, 1))
    assert qual.is_stale(date(2025, 3, 1), max_years=1)
    undated = Qualification(status="claimed", evidence="x", evidence_date="unknown")
    assert undated.age_days(TODAY) is None and undated.is_stale(TODAY)


def test_add_years_handles_leap_day() -> None:
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_bare_host() -> None:
    assert bare_host("https://S3.gra.io.cloud.ovh.net:443/bucket") == "s3.gra.io.cloud.ovh.net"
    assert bare_host("s3.fr-par.scw.cloud") == "s3.fr-par.scw.cloud"
    assert bare_host("s3.fr-par.scw.cloud:8443") == "s3.fr-par.scw.cloud"


def test_host_of_another_offering_of_the_same_preset_is_refused() -> None:
    outscale = get_preset("outscale")
    ok, reason = is_qualified(outscale, "cloudgouv-eu-west-1", "oos.eu-west-2.outscale.com", TODAY)
    assert not ok and "outscale-oos-cloudgouv" in reason
