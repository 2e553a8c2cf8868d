"""Canonical JSON: one byte sequence per value, so a hash of a record means one thing.

The encoding (the manifest's line format):

- keys sorted (by code point), separators ``,`` and ``:`` with no whitespace;
- UTF-8, non-ASCII characters written as themselves (not ``\\uXXXX`` escapes);
- values limited to ``null``, booleans, integers, strings, lists and objects with string
  keys. Floats (and NaN/Infinity) are refused: their text form is not canonical across
  languages, and nothing the manifest records needs one (sizes are integers, times are
  RFC 3339 strings).

``decode_canonical`` is the inverse and also refuses any input that is not already in
canonical form, so a re-formatted (but equivalent) line is detected as altered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

JsonValue = bool | int | str | list["JsonValue"] | dict[str, "JsonValue"] | None

_MAX_DEPTH = 32


class CanonicalError(ValueError):
    """A value cannot be encoded canonically, or a line is not canonical JSON."""


def encode_canonical(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value`` (no trailing newline).

    Raises CanonicalError for floats, NaN, non-string keys, unsupported types, or nesting
    deeper than 32 levels.
    """
    check_value(value)
    return _dumps(value)


def _dumps(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def check_value(value: Any, path: str = "$", depth: int = 0) -> None:
    """Raise CanonicalError naming the JSON path of the first value that is not allowed."""
    if depth > _MAX_DEPTH:
        raise CanonicalError(f"{path}: nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | int | str):
        _check_scalar(value, path)
    elif isinstance(value, Mapping):
        _check_mapping(value, path, depth)
    elif isinstance(value, list | tuple):
        _check_sequence(value, path, depth)
    elif isinstance(value, float):
        raise CanonicalError(f"{path}: floats are not allowed (use an integer or a string)")
    else:
        raise CanonicalError(f"{path}: {type(value).__name__} is not a JSON value")


def _check_scalar(value: bool | int | str | None, path: str) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CanonicalError(f"{path}: string is not valid Unicode (lone surrogate)") from None


def _check_mapping(value: Mapping[Any, Any], path: str, depth: int) -> None:
    for key, item in value.items():
        if not isinstance(key, str):
            raise CanonicalError(f"{path}: object keys must be strings, got {key!r}")
        _check_scalar(key, path)
        check_value(item, f"{path}.{key}", depth + 1)


def _check_sequence(value: Sequence[Any], path: str, depth: int) -> None:
    for index, item in enumerate(value):
        check_value(item, f"{path}[{index}]", depth + 1)


def decode_canonical(line: bytes) -> Any:
    """Parse one canonical line (without its newline); refuse anything not canonical.

    Raises CanonicalError when the bytes are not UTF-8 JSON, contain a float or a
    NaN/Infinity constant, or differ from their canonical re-encoding (which also catches
    duplicate keys, re-ordered keys, spacing and escapes). Parsed values need no type
    check: the parser only yields JSON types, and floats are refused while parsing.
    """
    try:
        value = json.loads(
            line.decode("utf-8"), parse_float=_refuse_float, parse_constant=_refuse_constant
        )
        canonical = _dumps(value)
    except (UnicodeDecodeError, UnicodeEncodeError, json.JSONDecodeError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None
    if canonical != line:
        raise CanonicalError("not in canonical form (key order, spacing, escaping or duplicates)")
    return value


def _refuse_float(text: str) -> Any:
    raise CanonicalError(f"floats are not allowed: {text}")


def _refuse_constant(text: str) -> Any:
    raise CanonicalError(f"{text} is not allowed")
