"""Azure → S3 metadata mapping: the documented rules, and properties checked by hypothesis."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdh_migrate.backends.base import ObjectInfo
from hdh_migrate.backends.metadata_map import (
    NOT_CARRIED,
    S3_METADATA_LIMIT,
    TRANSFORMED,
    decode_value,
    encode_value,
    map_azure_to_s3,
    metadata_size,
    s3_to_azure_metadata,
)

TOKEN = set(string.ascii_lowercase + string.digits + "!#$%&'*+.^_`|~-")


def info(**fields: object) -> ObjectInfo:
    return ObjectInfo(key="k", size=1, **fields)  # type: ignore[arg-type]


def by_item(mapped) -> dict[str, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    found: dict[str, list[tuple[str, str]]] = {}
    for issue in mapped.report.issues:
        found.setdefault(issue.item, []).append((issue.action, issue.reason))
    return found


# -- content headers ---------------------------------------------------------------------------


def test_content_headers_are_carried() -> None:
    content = {
        "content_type": "application/dicom",
        "content_encoding": "gzip",
        "content_language": "fr-FR",
        "content_disposition": 'attachment; filename="a b.dcm"',
        "cache_control": "no-store",
    }
    mapped = map_azure_to_s3(info(content=content))
    assert dict(mapped.content) == content
    assert mapped.report.issues == () and mapped.report.lossless


def test_non_ascii_content_header_is_reported_not_carried() -> None:
    mapped = map_azure_to_s3(info(content={"content_disposition": "inline; filename=é.txt"}))
    assert mapped.content == {}
    assert by_item(mapped)["content:content_disposition"][0][0] == NOT_CARRIED
    assert not mapped.report.lossless


# -- user metadata ---------------------------------------------------------------------------


def test_keys_are_lower_cased_and_reported_as_transformed() -> None:
    mapped = map_azure_to_s3(info(metadata={"PatientStudy": "x", "plain": "y"}))
    assert dict(mapped.metadata) == {"patientstudy": "x", "plain": "y"}
    assert by_item(mapped) == {
        "metadata:PatientStudy": [(TRANSFORMED, "name lower-cased to patientstudy")]
    }
    assert mapped.report.lossless


def test_case_collisions_keep_the_first_sorted_key_and_report_the_others() -> None:
    mapped = map_azure_to_s3(info(metadata={"owner": "b", "Owner": "a", "OWNER": "c"}))
    assert dict(mapped.metadata) == {"owner": "c"}  # "OWNER" sorts first
    issues = by_item(mapped)
    assert issues["metadata:Owner"] == [(NOT_CARRIED, "collides with OWNER after lower-casing")]
    assert issues["metadata:owner"][0][0] == NOT_CARRIED


def test_reserved_prefix_and_invalid_names_are_refused() -> None:
    mapped = map_azure_to_s3(
        info(metadata={"hdh-sha256": "forged", "HDH-x": "y", "bad name": "z", "clé": "v"}),
        tool_metadata={"hdh-sha256": "real"},
    )
    assert dict(mapped.metadata) == {"hdh-sha256": "real"}
    assert sorted(mapped.report.not_carried()) == sorted(
        ["metadata:hdh-sha256", "metadata:HDH-x", "metadata:bad name", "metadata:clé"]
    )


def test_non_ascii_values_are_rfc2047_encoded_and_decode_back() -> None:
    mapped = map_azure_to_s3(info(metadata={"service": "Cardiologie pédiatrique"}))
    value = mapped.metadata["service"]
    assert (
        value == "=?UTF-8?B?" + base64.b64encode("Cardiologie pédiatrique".encode()).decode() + "?="
    )
    assert s3_to_azure_metadata(mapped.metadata) == {"service": "Cardiologie pédiatrique"}
    assert by_item(mapped)["metadata:service"] == [(TRANSFORMED, "value RFC 2047 encoded")]


@pytest.mark.parametrize("value", [" lead", "trail ", "tab\tin", "=?UTF-8?B?Zm9v?=", "nl\n"])
def test_values_a_header_would_alter_are_encoded(value: str) -> None:
    encoded, changed = encode_value(value)
    assert changed and encoded.isascii() and decode_value(encoded) == value


def test_s3_q_encoded_values_decode() -> None:
    assert decode_value("=?UTF-8?Q?caf=C3=A9_cr=C3=A8me?=") == "café crème"
    assert decode_value("=?ISO-8859-1?Q?x?=") == "=?ISO-8859-1?Q?x?="  # left alone


def test_the_2_kib_limit_reports_what_did_not_fit() -> None:
    metadata = {f"k{i:02d}": "v" * 200 for i in range(12)}  # 12 × 203 bytes
    mapped = map_azure_to_s3(info(metadata=metadata), tool_metadata={"hdh-v": "1"})
    assert metadata_size(mapped.metadata) <= S3_METADATA_LIMIT
    carried = [k for k in mapped.metadata if not k.startswith("hdh-")]
    assert carried == [f"k{i:02d}" for i in range(10)]
    assert mapped.report.not_carried() == ["metadata:k10", "metadata:k11"]


def test_a_smaller_later_key_still_fits() -> None:
    metadata = {"a": "x" * 2000, "b": "y" * 100, "c": "z"}
    mapped = map_azure_to_s3(info(metadata=metadata))
    assert sorted(mapped.metadata) == ["a", "c"]
    assert mapped.report.not_carried() == ["metadata:b"]


def test_tool_metadata_must_be_well_formed() -> None:
    with pytest.raises(ValueError):
        map_azure_to_s3(info(), tool_metadata={"sha256": "x"})
    with pytest.raises(ValueError):
        map_azure_to_s3(info(), tool_metadata={"hdh-x": "é"})
    with pytest.raises(ValueError):
        map_azure_to_s3(info(), tool_metadata={"hdh-x": "v" * 3000})


# -- extras ----------------------------------------------------------------------------------


def test_azure_only_properties_are_reported() -> None:
    extra = {
        "blob_type": "AppendBlob",
        "access_tier": "Cool",
        "lease_state": "leased",
        "tag_count": "3",
        "legal_hold": "true",
        "immutability_policy_until": "2030-01-01T00:00:00+00:00",
        "snapshot": "2026-01-01T00:00:00Z",
        "something_new": "x",
    }
    mapped = map_azure_to_s3(info(extra=extra))
    assert sorted(mapped.report.not_carried()) == sorted(f"extra:{k}" for k in extra)
    reasons = {i.item: i.reason for i in mapped.report.issues}
    assert "storage class comes from the plan" in reasons["extra:access_tier"]
    assert "(was 3)" in reasons["extra:tag_count"]
    assert mapped.metadata == {} and mapped.content == {}


def test_default_blob_properties_are_not_noise() -> None:
    extra = {"blob_type": "BlockBlob", "lease_state": "available", "lease_status": "unlocked"}
    assert map_azure_to_s3(info(extra=extra)).report.issues == ()


def test_write_options_carry_the_mapping() -> None:
    mapped = map_azure_to_s3(info(content={"content_type": "a/b"}, metadata={"X": "1"}))
    opts = mapped.write_options(part_size=8)
    assert dict(opts.content) == {"content_type": "a/b"} and dict(opts.metadata) == {"x": "1"}
    assert opts.part_size == 8
    assert mapped.report.to_list()[0] == {
        "item": "metadata:X",
        "action": TRANSFORMED,
        "reason": "name lower-cased to x",
    }


# -- properties ------------------------------------------------------------------------------

azure_names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z")
any_values = st.text(max_size=60)
azure_metadata = st.dictionaries(azure_names, any_values, max_size=12)


def unique_case_insensitively(metadata: dict[str, str]) -> dict[str, str]:
    seen: set[str] = set()
    kept = {}
    for key in sorted(metadata):
        if key.lower() not in seen:
            seen.add(key.lower())
            kept[key] = metadata[key]
    return kept


@settings(max_examples=300)
@given(azure_metadata)
def test_round_trip_is_lossless_within_the_limit(metadata: dict[str, str]) -> None:
    metadata = unique_case_insensitively(metadata)
    mapped = map_azure_to_s3(info(metadata=metadata))
    if mapped.report.not_carried():  # only the size limit can drop an Azure-valid key here
        assert metadata_size(mapped.metadata) <= S3_METADATA_LIMIT
        return
    assert s3_to_azure_metadata(mapped.metadata) == {k.lower(): v for k, v in metadata.items()}


@settings(max_examples=300)
@given(
    st.dictionaries(st.text(min_size=1, max_size=30), st.text(max_size=300), max_size=15),
    st.dictionaries(st.text(max_size=15), st.text(max_size=30), max_size=6),
)
def test_nothing_is_dropped_silently_and_output_is_header_safe(
    metadata: dict[str, str], extra: dict[str, str]
) -> None:
    mapped = map_azure_to_s3(info(metadata=metadata, extra=extra), {"hdh-run": "r1"})
    reported = {issue.item for issue in mapped.report.issues}
    for key in metadata:
        assert key.lower() in mapped.metadata or f"metadata:{key}" in reported
        if key.lower() in mapped.metadata and key != key.lower():
            assert f"metadata:{key}" in reported
    for name, value in extra.items():
        defaults = {
            "blob_type": "BlockBlob",
            "lease_state": "available",
            "lease_status": "unlocked",
        }
        assert defaults.get(name) == value or f"extra:{name}" in reported
    assert metadata_size(mapped.metadata) <= S3_METADATA_LIMIT
    for key, value in mapped.metadata.items():
        assert set(key) <= TOKEN and value.isascii() and value == value.strip()
        assert all(" " <= ch <= "~" for ch in value)
    assert mapped == map_azure_to_s3(info(metadata=metadata, extra=extra), {"hdh-run": "r1"})


@given(st.text(max_size=200))
def test_encode_decode_round_trip(value: str) -> None:
    encoded, _ = encode_value(value)
    assert decode_value(encoded) == value


def test_a_trailing_newline_never_passes_as_a_token_or_plain_value() -> None:
    mapped = map_azure_to_s3(info(metadata={"k\n": "v", "ok": "v\n"}))
    assert "k\n" not in mapped.metadata and "metadata:k\n" in mapped.report.not_carried()
    assert mapped.metadata["ok"] != "v\n" and decode_value(mapped.metadata["ok"]) == "v\n"
