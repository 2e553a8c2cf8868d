"""Looking presets and regions up; endpoint formatting; did-you-mean errors."""

from __future__ import annotations

import pytest

from hdh_migrate.errors import UsageError
from hdh_migrate.providers import UnknownPresetError, UnknownRegionError, get_preset


def test_endpoint_formatting() -> None:
    assert get_preset("ovh").endpoint("gra") == "https://s3.gra.io.cloud.ovh.net"
    assert get_preset("scaleway").endpoint("pl-waw") == "https://s3.pl-waw.scw.cloud"
    assert (
        get_preset("outscale").endpoint("cloudgouv-eu-west-1")
        == "https://oos.cloudgouv-eu-west-1.outscale.com"
    )
    assert (
        get_preset("ovh-snc").endpoint("eu-west-sbg-snc")
        == "https://s3-beta.eu-west-sbg-snc.cloud.snc.ovh.net"
    )
    assert get_preset("s3ns").endpoint("u-france-east1") == "https://storage.s3nsapis.fr"


def test_endpoint_with_extra_variable() -> None:
    temple = get_preset("cloud-temple")
    assert temple.endpoint("fr1", namespace="hdh01") == "https://hdh01.s3.fr1.cloud-temple.com"


def test_endpoint_missing_variable_says_which() -> None:
    with pytest.raises(UsageError) as info:
        get_preset("cloud-temple").endpoint("fr1")
    assert "{namespace}" in info.value.one_line()
    assert info.value.exit_code == 2


def test_endpoint_of_unknown_region_raises_region_error() -> None:
    with pytest.raises(UnknownRegionError):
        get_preset("ovh").endpoint("gravelines")


def test_explicit_endpoint_presets_have_no_template() -> None:
    with pytest.raises(UsageError) as info:
        get_preset("minio").endpoint("us-east-1")
    assert "explicit endpoint" in info.value.one_line()


def test_unknown_preset_suggests_and_lists() -> None:
    with pytest.raises(UnknownPresetError) as info:
        get_preset("cloud-templ")
    line = info.value.one_line()
    assert "did you mean 'cloud-temple'?" in line
    assert "s3ns" in line and "seaweedfs" in line
    assert info.value.exit_code == 2
    assert isinstance(info.value, UsageError)


def test_unknown_preset_without_close_match_only_lists() -> None:
    with pytest.raises(UnknownPresetError) as info:
        get_preset("aws")
    assert "did you mean" not in info.value.one_line()
    assert "known presets: cloud-temple" in info.value.one_line()


def test_unknown_region_suggests_and_lists() -> None:
    with pytest.raises(UnknownRegionError) as info:
        get_preset("ovh-snc").region("eu-west-rbx")
    line = info.value.one_line()
    assert "did you mean 'eu-west-rbx-snc'?" in line
    assert "valid regions: eu-west-rbx-snc, eu-west-sbg-snc" in line
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_any_region_presets_accept_any_name() -> None:
    region = get_preset("seaweedfs").region("us-east-1")
    assert (region.name, region.country, region.eu, region.offering) == (
        "us-east-1",
        "ZZ",
        False,
        None,
    )


def test_offerings_for_host() -> None:
    ovh = get_preset("ovh")
    assert [o.name for o in ovh.offerings_for_host("s3.us-east-va.io.cloud.ovh.us")] == [
        "ovh-us-public-cloud"
    ]
    assert [o.name for o in ovh.offerings_for_host("s3.gra.io.cloud.ovh.net")] == [
        "ovh-public-cloud"
    ]
    assert ovh.offerings_for_host("evil.example.com") == ()
