"""Canonical JSON: one encoding per value; floats, NaN and non-canonical lines refused."""

from __future__ import annotations

import math

import pytest

from hdh_migrate.integrity.canonical import CanonicalError, decode_canonical, encode_canonical


def test_sorted_keys_compact_utf8() -> None:
    value = {"b": 1, "a": [True, None, "é/ü 漢"], "c": {"z": -3, "y": ""}}
    encoded = encode_canonical(value)
    assert encoded == '{"a":[true,null,"é/ü 漢"],"b":1,"c":{"y":"","z":-3}}'.encode()
    assert decode_canonical(encoded) == value


def test_same_value_same_bytes_whatever_the_insertion_order() -> None:
    assert encode_canonical({"x": 1, "y": 2}) == encode_canonical({"y": 2, "x": 1})


def test_big_integers_and_escapes_round_trip() -> None:
    value = {"n": 2**70, "s": 'quote " backslash \\ newline \n tab \t nul \x00'}
    assert decode_canonical(encode_canonical(value)) == value


@pytest.mark.parametrize("bad", [1.5, math.nan, math.inf, {"a": [0.0]}, {1: "x"}, b"raw", {1, 2}])
def test_refuses_non_canonical_values(bad: object) -> None:
    with pytest.raises(CanonicalError):
        encode_canonical(bad)


def test_error_names_the_path() -> None:
    with pytest.raises(CanonicalError, match=r"\$\.target\.size"):
        encode_canonical({"target": {"size": 1.0}})


def test_refuses_lone_surrogates_and_deep_nesting() -> None:
    with pytest.raises(CanonicalError):
        encode_canonical({"k": "\ud800"})
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(CanonicalError, match="deeper"):
        encode_canonical(deep)


@pytest.mark.parametrize(
    "line",
    [
        b'{"b":1,"a":2}',  # key order
        b'{"a": 2}',  # spacing
        b'{"a":"\\u00e9"}',  # escaped non-ASCII
        b'{"a":1.0}',  # float
        b'{"a":NaN}',  # constant
        b'{"a":1,"a":1}',  # duplicate key
        b'{"a":1',  # broken
        b'\xff{"a":1}',  # not UTF-8
    ],
)
def test_decode_refuses_anything_not_canonical(line: bytes) -> None:
    with pytest.raises(CanonicalError):
        decode_canonical(line)
